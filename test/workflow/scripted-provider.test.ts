import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Connection } from 'mongoose';
import { createGateway, type Gateway } from '../../src/app.js';
import { ledgerEntryModel } from '../../src/ledger/ledger-entry-model.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import { orderClaimModel, type OrderClaim } from '../../src/workflow/order-claims.js';
import { queuedOrderModel, type QueuedOrder } from '../../src/workflow/order-queue.js';
import { waitUntil } from '../support/gateway-process.js';
import { dropIsolatedDb, isolatedDb } from '../support/isolated-db.js';
import { testLogger } from '../support/log-capture.js';
import { deposit, makeCardholder, makeProduct, makeProject } from '../support/orders-fixtures.js';
import { ScriptedProvider } from '../support/scripted-provider.js';
import { testConfig } from '../support/test-config.js';

describe('issuance workflow with a scripted provider', function () {
  this.timeout(30_000);
  // A database of the suite's own: with one worker slot, an order another suite left due could
  // take the slot before this suite's order is handed over (it did once in CI).
  let connection: Connection;
  const conn = () => connection;
  let provider: ScriptedProvider;
  let gateway: Gateway;

  before(async () => {
    connection = await isolatedDb('scripted');
  });
  after(async () => {
    await dropIsolatedDb(connection);
  });

  beforeEach(async () => {
    provider = new ScriptedProvider();
    gateway = await createGateway({
      config: testConfig({ PROVIDER_TIMEOUT_MS: '50', PROVIDER_RETRY_BASE_MS: '5', PROVIDER_MAX_ATTEMPTS: '2' }),
      logger: testLogger,
      connection: conn(),
      cardProvider: provider,
    });
  });

  async function createOrder(): Promise<string> {
    const project = await makeProject(conn());
    const product = await makeProduct(conn(), { issue_fee: 100 });
    await deposit(conn(), project._id, 1000);
    const user = await makeCardholder(conn(), project._id);
    const reply = await gateway.orders.handlers.createCard({ project, body: { product_code: product.product_code, external_user_id: user, initial_balance: '3.00' }, idempotencyKey: randomUUID(), requestId: 't' });
    return (reply.data as { order_id: string }).order_id;
  }

  const terminal = (o: Order) => o.status === 'completed' || o.status === 'failed';

  async function runUntil(id: string, done: (o: Order) => boolean = terminal): Promise<Order> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      await gateway.orders.worker.runOrder(id);
      const order = (await orderModel(conn()).findById(id).lean<Order>())!;
      if (done(order)) return order;
      if (Date.now() > deadline) throw new Error(`stuck at ${order.issue_status}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  const runOrder = async () => runUntil(await createOrder());

  it('when an order waits on the provider, then its queue entry is due when the order is, and goes when the order is done', async () => {
    provider.verifyAnswers = ['pending', 'succeeded'];
    const id = await createOrder();
    const queue = queuedOrderModel(conn());
    assert.ok(await queue.findById(id).lean(), 'queued as soon as it is accepted');
    const waiting = await runUntil(id, (o) => o.issue_status === 'initial_topup_in_progress' && o.next_attempt_at!.getTime() > Date.now());
    const entry = await queue.findById(id).lean<QueuedOrder>();
    assert.equal(entry?.due_at.getTime(), waiting.next_attempt_at!.getTime(), 'due again exactly when the workflow asks');
    assert.equal((await runUntil(id)).status, 'completed');
    assert.equal(await queue.findById(id).lean(), null, 'a finished order leaves the queue');
    assert.equal(await conn().collection('order_claims').countDocuments({ order_id: id }), 0, 'and its claims are forgotten');
  });

  it('when top-up verification answers pending, then the worker asks again later and completes', async () => {
    provider.verifyAnswers = ['pending', 'pending', 'succeeded'];
    const order = await runOrder();
    assert.equal(order.status, 'completed');
    assert.deepEqual(provider.calls.filter((c) => c === 'verifyTopUp').length, 3);
    assert.deepEqual(provider.calls.filter((c) => c === 'topUp').length, 1, 'a pending top-up is not sent twice');
  });

  it('when the provider does not answer within PROVIDER_TIMEOUT_MS, then the call counts as a timeout and the order fails provider_timeout with a full refund', async () => {
    provider.hangCreate = true;
    const order = await runOrder();
    assert.deepEqual([order.status, order.issue_status, order.last_error_slug], ['failed', 'card_create_error', 'provider_timeout']);
    assert.equal(provider.calls.filter((c) => c === 'createCard').length, 2);
    const refund = await ledgerEntryModel(conn()).findOne({ order_id: order._id, kind: 'refund' }).lean();
    assert.equal(refund?.amount, 400);
  });

  describe('when the worker runs beside the requests', () => {
    let opened: () => void;

    beforeEach(async () => {
      // One slot, and a poll too slow to matter: what starts an order here is the request's hand-over.
      gateway = await createGateway({
        config: testConfig({ WORKER_ENABLED: 'true', WORKER_CONCURRENCY: '1', WORKER_POLL_MS: '60000' }),
        logger: testLogger,
        connection: conn(),
        cardProvider: provider,
      });
      // Orders this suite's earlier cases left due would take the one slot at start: finished
      // first, before the gate.
      await gateway.orders.worker.drain();
      provider.createGate = new Promise<void>((resolve) => (opened = resolve));
      provider.calls.length = 0;
      provider.cardsCreatedFor.length = 0;
      await gateway.start();
    });

    afterEach(async () => {
      opened();
      await gateway.stop();
    });

    const claimsOf = (id: string) => orderClaimModel(conn()).find({ order_id: id }).sort({ epoch: 1 }).lean<OrderClaim[]>();
    const until = (what: string, done: () => boolean | Promise<boolean>) => waitUntil(done, 10_000, what);
    const status = async (id: string) => (await orderModel(conn()).findById(id).lean<Order>())?.status;

    it('when a slot is free, then the worker carries the order on under the claim the request charged it with, never released between them', async () => {
      const id = await createOrder();
      // This order's card creation, not any order's.
      await until('the worker to reach card creation', () => provider.cardsCreatedFor.includes(id));
      const claims = await claimsOf(id);
      assert.deepEqual(claims.map((c) => c.epoch), [1], 'one claim from the charge to the card');
      assert.ok(claims[0]!.expires_at.getTime() > Date.now(), 'and it is still held');
      opened();
      await until('the order to complete', async () => (await status(id)) === 'completed');
      // The worker forgets the claims, then drops the queue entry: two writes, so wait for both.
      await until('its claims and its queue entry to be forgotten', async () => (await claimsOf(id)).length === 0 && (await queuedOrderModel(conn()).findById(id).lean()) === null);
    });

    it('when no slot is free, then the request releases its claim and the order waits its turn, then completes', async () => {
      const first = await createOrder();
      await until('the first order to hold the slot', () => provider.cardsCreatedFor.includes(first));
      const second = await createOrder();
      const [released] = await claimsOf(second);
      assert.equal(released?.expires_at.getTime(), 0, 'released by the request, so any worker may take it');
      assert.equal(await status(second), 'new', 'charged, waiting for the slot');
      opened();
      await until('both orders to complete', async () => (await status(first)) === 'completed' && (await status(second)) === 'completed');
      await until('their claims to be forgotten', async () => (await claimsOf(first)).length + (await claimsOf(second)).length === 0);
    });
  });
});
