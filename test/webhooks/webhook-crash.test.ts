import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createGateway, type Gateway } from '../../src/app.js';
import { eventIdFor } from '../../src/ids/ids.js';
import { orderModel } from '../../src/orders/order-model.js';
import { statesOf } from '../../src/webhooks/order-events.js';
import { webhookModels } from '../../src/webhooks/webhook-models.js';
import { spawnGateway, waitUntil, type GatewayProcess } from '../support/gateway-process.js';
import { testLogger } from '../support/log-capture.js';
import { childMongoUri, deposit, makeCardholder, makeProduct } from '../support/orders-fixtures.js';
import { clientFor, createTestProject } from '../support/partner.js';
import { testConfig } from '../support/test-config.js';
import { testStore } from '../support/test-store.js';
import { startReceiver, type Receiver } from '../support/webhook-receiver-process.js';

/**
 * Webhooks across crashes: gateway processes that run the workflow and the webhook dispatcher are
 * SIGKILLed at random moments while orders move; a last one finishes. Every state of every order
 * must reach the receiver (another process), in order per order.
 */
describe('webhooks across gateway crashes', function () {
  this.timeout(300_000);
  const conn = () => testStore().connection;
  const cardDataKeys = `hooks:${randomBytes(32).toString('base64')}`;
  let keysDir: string;
  let gateway: Gateway;
  let receiver: Receiver;

  before(async () => {
    keysDir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-hooks-'));
    gateway = await createGateway({
      config: testConfig({ CARD_DATA_KEYS: cardDataKeys, CARD_DATA_ACTIVE_KEY_ID: 'hooks', GATEWAY_KEYS_DIR: keysDir }),
      logger: testLogger,
      connection: conn(),
    });
    await gateway.orders.worker.drain();
    receiver = await startReceiver({ RECEIVER_FAIL_FIRST: '3', RECEIVER_SLOW_MS: '600' });
  });
  after(async () => {
    await receiver.stop();
    await rm(keysDir, { recursive: true, force: true });
  });

  const start = (): Promise<GatewayProcess> =>
    spawnGateway({
      MONGODB_URI: childMongoUri(testStore().uri, testStore().dbName),
      GATEWAY_KEYS_DIR: keysDir,
      CARD_DATA_KEYS: cardDataKeys,
      CARD_DATA_ACTIVE_KEY_ID: 'hooks',
      LOG_LEVEL: 'info',
      WORKER_POLL_MS: '50',
      WORKER_LEASE_MS: '1000',
      PROVIDER_RETRY_BASE_MS: '10',
      SANDBOX_LATENCY_MS: '20',
      WEBHOOK_POLL_MS: '50',
      WEBHOOK_TIMEOUT_MS: '300',
      WEBHOOK_RETRY_BASE_MS: '20',
      WEBHOOK_RETRY_MAX_MS: '200',
    });

  it('when gateways are killed while orders move and events are delivered, then every event of every order arrives, in order per order', async () => {
    const { project, keys } = await createTestProject({ url: 'http://127.0.0.1:1' });
    const product = await makeProduct(conn(), { issue_fee: 100 });
    await deposit(conn(), project._id, 1_000_000);
    const ok = await makeCardholder(conn(), project._id);
    const declined = await makeCardholder(conn(), project._id);
    await gateway.orders.simulator!.setRule(project._id, { external_user_id: declined, card_issue: 'auto', topup_result: 'succeed', create_card_failure: { failure: 'declined', times: 1000 } });
    await webhookModels(conn()).endpoints.create({ _id: project._id, url: receiver.url, status: 'active' });

    const orderIds: string[] = [];
    for (let round = 0; round < 4; round++) {
      const child = await start();
      for (let i = 0; i < 6; i++) {
        const reply = await gateway.orders.handlers.createCard({
          project,
          body: { product_code: product.product_code, external_user_id: i % 3 === 2 ? declined : ok, initial_balance: '2.00' },
          idempotencyKey: randomUUID(),
          requestId: 'webhook-crash-test',
        });
        orderIds.push((reply.data as { order_id: string }).order_id);
      }
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 600));
      child.child.kill('SIGKILL');
      await child.exited;
    }

    const last = await start();
    try {
      await waitUntil(async () => (await orderModel(conn()).countDocuments({ _id: { $in: orderIds }, status: { $in: ['completed', 'failed'] } })) === orderIds.length, 120_000, 'every order finished').catch(async (e: unknown) => {
        process.stdout.write(JSON.stringify((await orderModel(conn()).find({ _id: { $in: orderIds } }).lean()).map((o) => [o.status, o.issue_status, o.last_error])) + '\n' + last.output.slice(-15).join('\n') + '\n');
        throw e;
      });
      const expected = new Map((await orderModel(conn()).find({ _id: { $in: orderIds } }).lean()).map((o) => [o._id, statesOf(o)]));
      const ids = [...expected].flatMap(([orderId, states]) => states.map((s) => eventIdFor(orderId, s)));
      await waitUntil(async () => (await webhookModels(conn()).events.countDocuments({ _id: { $in: ids }, status: 'delivered' })) === ids.length, 120_000, 'every event delivered');

      const opener = clientFor(last.url, project._id, keys);
      const received = await receiver.received();
      const seen = new Map<string, string[]>();
      for (const r of received) {
        const event = await opener.openEvent(r.body);
        seen.set(event.subject.id, [...(seen.get(event.subject.id) ?? []), `${event.sequence}:${event.type}`]);
      }
      for (const [orderId, states] of expected) {
        const got = seen.get(orderId) ?? [];
        assert.deepEqual([...new Set(got)].map((g) => g.split(':')[1]), states.map((s) => `order.${s}`), `every event of ${orderId}, in order`);
        const sequences = got.map((g) => Number(g.split(':')[0]));
        assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b), `receipt order of ${orderId} never goes back`);
      }
      assert.ok([...expected.values()].some((s) => s.includes('failed')) && [...expected.values()].some((s) => s.includes('completed')));
      process.stdout.write(`      ${orderIds.length} orders, ${ids.length} events, ${received.length} requests after 4 kills\n`);
    } finally {
      last.child.kill('SIGKILL');
      await last.exited;
      await webhookModels(conn()).endpoints.updateOne({ _id: project._id }, { $set: { status: 'disabled' } });
    }
  });
});
