import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { WebhookEventError, type PartnerClient, type WebhookEvent } from '@card-gateway/client';
import { eventIdFor } from '../../src/ids/ids.js';
import { auditLogModel } from '../../src/back-office/audit-log.js';
import { orderModel } from '../../src/orders/order-model.js';
import { statesOf } from '../../src/webhooks/order-events.js';
import { isNonPublicAddress, refuseUrl } from '../../src/webhooks/url-policy.js';
import { webhookModels } from '../../src/webhooks/webhook-models.js';
import { waitUntil } from '../support/gateway-process.js';
import { deposit, makeCardholder, makeProduct } from '../support/orders-fixtures.js';
import { createTestProject, expectApiError, startTestGateway, type TestGateway, type TestProject } from '../support/partner.js';
import { testStore } from '../support/test-store.js';
import { startReceiver, type Receiver } from '../support/webhook-receiver-process.js';

const TOKEN = 'webhook-test-token-0123456789abcdef0123456789';

/** Webhooks to partners: the outbox, the dispatcher, the admin API, the client's openEvent. */
describe('webhooks to partners', function () {
  this.timeout(120_000);
  const conn = () => testStore().connection;
  const models = () => webhookModels(conn());
  let tg: TestGateway;

  const admin = (method: string, route: string, body?: unknown) =>
    fetch(`${tg.url}/admin/v1${route}`, {
      method,
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as { data?: Record<string, unknown>; error?: { slug: string; issues?: { path: string; message: string }[] } } }));

  async function apiError(call: Promise<unknown>): Promise<Error> {
    try {
      await call;
    } catch (err) {
      return err as Error;
    }
    throw new Error('expected an error');
  }

  before(async () => {
    tg = await startTestGateway({
      config: {
        ADMIN_TOKENS: `tester:${TOKEN}`,
        WORKER_ENABLED: 'true',
        WORKER_POLL_MS: '20',
        PROVIDER_RETRY_BASE_MS: '5',
        PROVIDER_MAX_ATTEMPTS: '2',
        WEBHOOK_POLL_MS: '50',
        WEBHOOK_TIMEOUT_MS: '400',
        WEBHOOK_RETRY_BASE_MS: '20',
        WEBHOOK_RETRY_MAX_MS: '200',
        RATE_LIMIT_PER_ADDRESS: '1000000',
        RATE_LIMIT_PER_PROJECT: '1000000',
      },
    });
    await tg.gateway.start();
  });
  after(async () => {
    await tg.close();
  });

  describe('delivery to a receiver that fails, answers slowly and drops connections', () => {
    let receiver: Receiver;
    let tp: TestProject;
    let client: PartnerClient;
    const expected = new Map<string, string[]>();

    before(async function () {
      this.timeout(120_000);
      receiver = await startReceiver({ RECEIVER_FAIL_FIRST: '6', RECEIVER_SLOW_MS: '900' });
      tp = await createTestProject({ url: tg.url });
      client = tp.client;
      const registered = await admin('PUT', `/projects/${tp.project._id}/webhook`, { url: receiver.url });
      assert.equal(registered.status, 200, JSON.stringify(registered.body));
      const product = await makeProduct(conn(), { issue_fee: 100 });
      const users = [await makeCardholder(conn(), tp.project._id), await makeCardholder(conn(), tp.project._id)];
      await deposit(conn(), tp.project._id, 50_000);
      await client.call('/api/v1/sandbox/rules/set', { external_user_id: users[1], create_card_failure: { failure: 'declined', times: 1 } });

      const created = await Promise.all(
        [0, 0, 0, 0, 1].map((u) => client.createCard({ product_code: product.product_code, external_user_id: users[u]!, initial_balance: '3.00' }).then((r) => r.data.order_id)),
      );
      const rejected = (await expectApiError(client.createCard({ product_code: product.product_code, external_user_id: 'nobody' }))).order_id!;
      await waitUntil(
        async () => (await orderModel(conn()).countDocuments({ _id: { $in: created }, status: { $in: ['completed', 'failed'] } })) === created.length,
        60_000,
        'the orders finished',
      );
      for (const order of await orderModel(conn()).find({ _id: { $in: [...created, rejected] } }).lean()) {
        expected.set(order._id, statesOf(order).map((s) => `order.${s}`));
      }
      const ids = [...expected].flatMap(([orderId, types]) => types.map((t) => eventIdFor(orderId, t.slice('order.'.length))));
      await waitUntil(async () => (await models().events.countDocuments({ _id: { $in: ids }, status: 'delivered' })) === ids.length, 90_000, 'every event delivered');
    });
    after(async () => {
      await models().endpoints.updateOne({ _id: tp.project._id }, { $set: { status: 'disabled' } });
      await receiver.stop();
    });

    it('when every event is stored delivered, then the receiver got each one at least once, sealed and verifiable, in order per order', async () => {
      const received = await receiver.received();
      const opened: WebhookEvent[] = [];
      for (const r of received) {
        const event = await client.openEvent(r.body, { 'Webhook-Id': r.id, 'Webhook-Type': r.type });
        assert.equal(event.id, r.id, 'the Webhook-Id header names the sealed event');
        opened.push(event);
      }
      const bySubject = new Map<string, WebhookEvent[]>();
      for (const e of opened) bySubject.set(e.subject.id, [...(bySubject.get(e.subject.id) ?? []), e]);
      for (const [orderId, types] of expected) {
        const got = bySubject.get(orderId) ?? [];
        const firstSeen = [...new Map(got.map((e) => [e.id, e])).values()];
        assert.deepEqual(firstSeen.map((e) => e.type), types, `events of ${orderId} in their order, none missing`);
        const sequences = got.map((e) => e.sequence);
        assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b), `receipt order of ${orderId} never goes back (duplicates allowed)`);
        assert.ok(got.every((e) => e.subject.type === 'order' && 'order_id' in e.data && e.data.order_id === orderId && e.project_id === tp.project._id));
      }
      const final = bySubject.get([...expected].find(([, t]) => t.includes('order.failed') && t.length === 3)![0])!.at(-1)!;
      assert.equal(final.subject.type, 'order');
      assert.deepEqual([final.type, final.data.status, 'refunded_amount' in final.data && final.data.refunded_amount], ['order.failed', 'failed', '4.00']);
      const answers = new Set(received.map((r) => r.answer));
      for (const a of ['fail', 'slow', 'drop', 'ok']) assert.ok(answers.has(a), `the receiver exercised "${a}"`);
      const duplicates = received.length - new Set(received.map((r) => r.id)).size;
      process.stdout.write(`      ${received.length} requests for ${new Set(received.map((r) => r.id)).size} events (${duplicates} duplicates)\n`);
    });

    it('when attempts failed, then the delivery log stores each attempt with its outcome, readable through the admin API', async () => {
      const attempts = await models().attempts.find({ project_id: tp.project._id }).lean();
      const outcomes = new Set(attempts.map((a) => a.outcome));
      for (const o of ['delivered', 'http_error', 'timeout', 'network_error'] as const) assert.ok(outcomes.has(o), `an attempt ended ${o}: ${[...outcomes].join(',')}`);
      // An order event: all of them were delivered before these tests; the project's card events
      // (its issued cards') may still be in their retries.
      const retried = await models().events.findOne({ project_id: tp.project._id, subject_type: 'order', attempts: { $gt: 1 } }).lean();
      assert.ok(retried, 'some event needed several attempts');
      const { status, body } = await admin('GET', `/projects/${tp.project._id}/webhook/events/${retried._id}`);
      assert.equal(status, 200);
      const view = body.data as { status: string; attempts: number; delivery_attempts: { attempt: number; outcome: string }[] };
      assert.deepEqual([view.status, view.attempts], ['delivered', retried.attempts]);
      assert.deepEqual(view.delivery_attempts.map((a) => a.attempt), Array.from({ length: retried.attempts }, (_, i) => i + 1));
      assert.equal(view.delivery_attempts.at(-1)!.outcome, 'delivered');

      const page = await admin('GET', `/projects/${tp.project._id}/webhook/events?limit=3`);
      const listed = page.body.data as { events: { event: { id: string } }[]; next_cursor: string | null };
      assert.equal(listed.events.length, 3);
      assert.ok(listed.next_cursor);
      const bad = await admin('GET', `/projects/${tp.project._id}/webhook/events?cursor=nope`);
      assert.deepEqual([bad.status, bad.body.error?.slug], [400, 'validation_error']);
    });

    it('when staff redeliver an event, then it is sent again under the same id and the change is audited', async () => {
      const [orderId, types] = [...expected][0]!;
      const eventId = eventIdFor(orderId, types.at(-1)!.slice('order.'.length));
      const before = (await receiver.received()).filter((r) => r.id === eventId).length;
      const { status, body } = await admin('POST', `/projects/${tp.project._id}/webhook/events/${eventId}/redeliver`);
      assert.equal(status, 200);
      assert.equal((body.data as { status: string }).status, 'pending');
      await waitUntil(async () => (await models().events.findById(eventId).lean())?.status === 'delivered', 30_000, 'the redelivery');
      assert.ok((await receiver.received()).filter((r) => r.id === eventId).length > before);
      assert.ok(await auditLogModel(conn()).exists({ action: 'webhook.redeliver', target: `webhook_event:${eventId}`, outcome: 'applied', staff: 'tester' }));
      const unknown = await admin('POST', `/projects/${tp.project._id}/webhook/events/evt_nope/redeliver`);
      assert.deepEqual([unknown.status, unknown.body.error?.slug], [404, 'not_found']);
    });

    it('when a sealed body is forged, meant for another project or not an event, then openEvent refuses it', async () => {
      const other = await createTestProject({ url: tg.url });
      const body = (await receiver.received())[0]!.body;
      assert.ok((await apiError(other.client.openEvent(body))) instanceof WebhookEventError, 'encrypted to another key');
      assert.ok((await apiError(client.openEvent('not.a.jwe.at.all'))) instanceof WebhookEventError);
      // A token the partner itself could make is not signed by the gateway.
      const selfMade = await client.seal({ event: { id: 'evt_x', type: 'order.completed', sequence: 3, data: {}, project_id: tp.project._id } });
      assert.ok((await apiError(client.openEvent(selfMade))) instanceof Error);
    });
  });

  describe('the outbox', () => {
    it('when an order reached a state with no event recorded (a crash right after the order write), then a scan derives every state it passed, once', async () => {
      const tp = await createTestProject({ url: tg.url });
      await models().endpoints.create({ _id: tp.project._id, url: 'http://127.0.0.1:9/unused', status: 'disabled' });
      await models().endpoints.updateOne({ _id: tp.project._id }, { $set: { status: 'active' } });
      // Written straight to the store, as a worker would just before dying: no event exists for it.
      const orderId = `ord_${randomUUID()}`;
      await orderModel(conn()).create({
        _id: orderId, project_id: tp.project._id, order_type: 'card_issue', idempotency_key: randomUUID(), request_hash: 'x',
        status: 'failed', issue_status: 'initial_topup_error', is_issued: false, data: { currency: 'USD', total_charge: 500, initial_balance: 400 },
        balance_before: 1000, balance_after: 500, rejected: false, attempts: 0, failed_at: new Date(),
      });
      await tg.gateway.webhooks.outbox.scan();
      await tg.gateway.webhooks.outbox.scan();
      const events = await models().events.find({ subject_id: orderId }).sort({ sequence: 1 }).lean();
      assert.deepEqual(events.map((e) => [e.type, e.sequence]), [['order.created', 0], ['order.activating', 1], ['order.processing', 2], ['order.failed', 3]]);
      await models().endpoints.updateOne({ _id: tp.project._id }, { $set: { status: 'disabled' } });
      await models().events.deleteMany({ subject_id: orderId });
    });

    it('when the states of each kind of order are derived, then they follow the workflow path', () => {
      const o = (status: string, issue_status?: string, rejected = false, order_type = 'card_issue') => statesOf({ status, issue_status, rejected, order_type } as never);
      assert.deepEqual(o('new'), ['created']);
      assert.deepEqual(o('processing', 'initial_topup_pending'), ['created', 'activating', 'processing']);
      assert.deepEqual(o('completed', 'completed'), ['created', 'activating', 'processing', 'completed']);
      assert.deepEqual(o('failed', 'card_create_error'), ['created', 'activating', 'failed']);
      assert.deepEqual(o('failed', 'initial_topup_verify_error'), ['created', 'activating', 'processing', 'failed']);
      assert.deepEqual(o('failed', undefined, true), ['failed']);
      assert.deepEqual(o('completed', undefined, false, 'balance_deposit'), ['completed']);
      for (const type of ['card_topup', 'card_withdraw', 'card_freeze', 'card_unfreeze', 'card_terminate']) {
        assert.deepEqual(o('new', undefined, false, type), ['created'], type);
        assert.deepEqual(o('processing', 'card_change_in_progress', false, type), ['created', 'processing'], type);
        assert.deepEqual(o('completed', 'completed', false, type), ['created', 'processing', 'completed'], type);
        assert.deepEqual(o('failed', 'topup_error', false, type), ['created', 'processing', 'failed'], type);
        assert.deepEqual(o('failed', undefined, true, type), ['failed'], `${type} refused at creation`);
      }
    });
  });

  describe('endpoint URLs', () => {
    it('when production rules apply, then only https to public addresses is accepted', () => {
      const strict = { allowPrivate: false };
      assert.equal(refuseUrl('https://hooks.example.com/card-events', strict), undefined);
      for (const url of ['http://hooks.example.com/', 'https://127.0.0.1/', 'https://localhost/', 'https://10.1.2.3/', 'https://[::1]/', 'https://[fd00::1]/', 'https://169.254.169.254/', 'https://u:p@example.com/', 'ftp://example.com/', 'nonsense']) {
        assert.ok(refuseUrl(url, strict), `${url} refused`);
      }
      assert.equal(refuseUrl('http://127.0.0.1:8080/hook', { allowPrivate: true }), undefined);
      for (const a of ['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '100.64.0.1', '::1', 'fe80::1', '::ffff:10.0.0.1', '0.0.0.0']) assert.ok(isNonPublicAddress(a), a);
      for (const a of ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946', '8.8.8.8']) assert.ok(!isNonPublicAddress(a), a);
    });

    it('when a gateway runs with production URL rules, then registration refuses private URLs with webhook_url_refused and delivery refuses a name that resolves to loopback', async function () {
      this.timeout(60_000);
      const strict = await startTestGateway({ config: { ADMIN_TOKENS: `tester:${TOKEN}`, WEBHOOK_ALLOW_PRIVATE_URLS: 'false' } });
      // Only the strict gateway dispatches meanwhile: the suite's gateway allows loopback.
      await tg.gateway.webhooks.dispatcher.stop();
      try {
        const tp = await createTestProject({ url: strict.url });
        const put = (body: unknown) =>
          fetch(`${strict.url}/admin/v1/projects/${tp.project._id}/webhook`, { method: 'PUT', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) }).then(
            async (r) => ({ status: r.status, body: (await r.json()) as { error?: { slug: string; issues?: { path: string }[] } } }),
          );
        for (const url of ['http://hooks.example.com/', 'https://127.0.0.1:8443/', 'https://localhost/']) {
          const r = await put({ url });
          assert.deepEqual([r.status, r.body.error?.slug, r.body.error?.issues?.[0]?.path], [422, 'webhook_url_refused', 'url'], url);
        }
        assert.deepEqual((await put({ url: 'https://x.example', extra: 1 })).body.error?.slug, 'validation_error');
        assert.equal(await models().endpoints.exists({ _id: tp.project._id }), null, 'nothing stored');
        const unknownProject = await fetch(`${strict.url}/admin/v1/projects/prj_nope/webhook`, { method: 'PUT', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ url: 'https://hooks.example.com/' }) });
        assert.equal(unknownProject.status, 404);

        // A name that passed registration and now resolves to loopback: refused at connection time.
        await models().endpoints.create({ _id: tp.project._id, url: 'https://localhost:9/hook', status: 'active' });
        const eventId = eventIdFor(`ord_${randomUUID()}`, 'created');
        const now = new Date();
        await models().events.create({
          _id: eventId, project_id: tp.project._id, type: 'order.created', subject_type: 'order', subject_id: eventId, sequence: 0, data: {},
          created_at: now, status: 'pending', attempts: 0, next_attempt_at: now, retry_until: new Date(now.getTime() + 60_000),
        });
        // Polled until it is attempted: other suites' pending events, due earlier, may fill a poll.
        await waitUntil(
          async () => {
            await strict.gateway.webhooks.dispatcher.tick();
            return (await models().attempts.exists({ event_id: eventId })) !== null;
          },
          20_000,
          'the attempt',
        );
        const attempt = await models().attempts.findOne({ event_id: eventId }).lean();
        assert.equal(attempt?.outcome, 'address_refused');
        assert.equal((await models().events.findById(eventId).lean())?.status, 'pending', 'still retried until its deadline');
        await models().endpoints.updateOne({ _id: tp.project._id }, { $set: { status: 'disabled' } });
        await models().events.deleteOne({ _id: eventId });
      } finally {
        await strict.close();
        tg.gateway.webhooks.dispatcher.start();
      }
    });
  });
});
