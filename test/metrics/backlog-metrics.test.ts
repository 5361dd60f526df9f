import assert from 'node:assert/strict';
import type { Connection } from 'mongoose';
import { orderModel } from '../../src/orders/order-model.js';
import { webhookModels } from '../../src/webhooks/webhook-models.js';
import { dropIsolatedDb, isolatedDb } from '../support/isolated-db.js';
import { startTestGateway, type TestGateway } from '../support/partner.js';

const STAFF = 'backlog-metrics-token-0123456789abcdef012';
const MINUTE = 60_000;

/**
 * The gauges the operations guide's alerts use (docs/operations.md, Monitoring): stuck orders and
 * the webhook backlog, counted from the store at scrape time. On a database of its own, so the
 * counts are exactly this test's rows.
 */
describe('metrics: stuck orders and the webhook backlog', function () {
  this.timeout(60_000);
  let connection: Connection;
  let tg: TestGateway;

  before(async () => {
    connection = await isolatedDb('backlog_metrics');
    tg = await startTestGateway({ connection, config: { ADMIN_TOKENS: `ops:${STAFF}`, STUCK_ORDER_AFTER_S: '60' } });
  });
  after(async () => {
    await tg.close();
    await dropIsolatedDb(connection);
  });

  const gauge = async (name: string): Promise<Map<string, number>> => {
    const res = await fetch(`${tg.url}/metrics`, { headers: { Authorization: `Bearer ${STAFF}` } });
    assert.equal(res.status, 200);
    const samples = new Map<string, number>();
    for (const line of (await res.text()).split('\n')) {
      if (!line.startsWith(name)) continue;
      const at = line.lastIndexOf(' ');
      samples.set(line.slice(name.length, at), Number(line.slice(at + 1)));
    }
    return samples;
  };

  it('when an unfinished order has not moved for STUCK_ORDER_AFTER_S, then gateway_stuck_orders counts it until it moves', async () => {
    const orders = orderModel(connection).collection;
    const now = Date.now();
    const order = (id: string, status: string, updatedAgoMs: number) => ({
      _id: id,
      project_id: 'prj_metrics',
      order_type: 'card_issue',
      idempotency_key: id,
      request_hash: 'h',
      status,
      is_issued: false,
      data: {},
      rejected: false,
      attempts: 0,
      created_at: new Date(now - 20 * MINUTE),
      updated_at: new Date(now - updatedAgoMs),
    });
    await orders.insertMany([
      order('ord_stuck', 'processing', 10 * MINUTE),
      order('ord_moving', 'activating', 5_000),
      order('ord_done_long_ago', 'completed', 10 * MINUTE),
      order('ord_failed_long_ago', 'failed', 10 * MINUTE),
    ] as never[]);
    assert.deepEqual([...(await gauge('gateway_stuck_orders'))], [['', 1]]);

    await orders.updateOne({ _id: 'ord_stuck' } as never, { $set: { status: 'completed', updated_at: new Date() } });
    assert.deepEqual([...(await gauge('gateway_stuck_orders'))], [['', 0]]);
  });

  it('when webhook events wait, then gateway_webhook_events counts pending and failed ones and gateway_webhook_oldest_due_seconds says how long the earliest due one has waited', async () => {
    const { events } = webhookModels(connection);
    const now = Date.now();
    const event = (id: string, status: string, dueInMs: number) => ({
      _id: id,
      project_id: 'prj_metrics',
      type: 'order.completed',
      subject_type: 'order',
      subject_id: `ord_${id}`,
      sequence: 3,
      data: {},
      created_at: new Date(now - 10 * MINUTE),
      status,
      attempts: 1,
      next_attempt_at: new Date(now + dueInMs),
      retry_until: new Date(now + 60 * MINUTE),
    });
    await events.collection.insertMany([
      event('evt_overdue', 'pending', -2 * MINUTE),
      event('evt_backing_off', 'pending', 30 * MINUTE),
      event('evt_gave_up', 'failed', -30 * MINUTE),
      event('evt_delivered', 'delivered', -30 * MINUTE),
    ] as never[]);

    const counts = await gauge('gateway_webhook_events');
    assert.equal(counts.get('{status="pending"}'), 2);
    assert.equal(counts.get('{status="failed"}'), 1);
    const waited = (await gauge('gateway_webhook_oldest_due_seconds')).get('')!;
    assert.ok(waited >= 120 && waited < 600, `the overdue event has waited about two minutes, not ${waited} s`);

    await events.updateOne({ _id: 'evt_overdue' }, { $set: { status: 'delivered', delivered_at: new Date() } });
    assert.equal((await gauge('gateway_webhook_oldest_due_seconds')).get(''), 0, 'nothing is due once the overdue event is delivered');
    assert.equal((await gauge('gateway_webhook_events')).get('{status="pending"}'), 1);
  });

  it('when the gauges count, then each of their queries searches an index on the embedded store (the store the census checks)', async function () {
    if (process.env.MONGODB_URI) this.skip(); // explain's plan text is the embedded store's
    const queries = [
      { find: 'orders', filter: { status: { $in: ['new', 'activating', 'processing'] }, updated_at: { $lt: new Date() } } },
      { find: 'webhook_events', filter: { status: 'pending' } },
      { find: 'webhook_events', filter: { status: 'pending', next_attempt_at: { $lte: new Date() } }, sort: { next_attempt_at: 1 } },
    ];
    for (const query of queries) {
      const res = await connection.db!.command({ explain: query });
      const plan = ((res.queryPlanner as { Plan?: string[] } | undefined)?.Plan ?? []).join(' | ');
      assert.match(plan, /SEARCH \S+ USING (COVERING )?INDEX/, `${JSON.stringify(query)}: ${plan}`);
      assert.doesNotMatch(plan, /SCAN/, `${JSON.stringify(query)}: ${plan}`);
    }
  });
});
