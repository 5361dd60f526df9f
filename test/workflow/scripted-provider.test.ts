import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createGateway, type Gateway } from '../../src/app.js';
import { ledgerEntryModel } from '../../src/ledger/ledger-entry-model.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import type { CardProvider, ProviderCard, TopUpResult } from '../../src/provider/card-provider.js';
import { queuedOrderModel, type QueuedOrder } from '../../src/workflow/order-queue.js';
import { testLogger } from '../support/log-capture.js';
import { deposit, makeCardholder, makeProduct, makeProject } from '../support/orders-fixtures.js';
import { testConfig } from '../support/test-config.js';
import { testStore } from '../support/test-store.js';

/** A scripted provider (the one thing tests may fake): behaviours the sandbox does not have. */
class ScriptedProvider implements CardProvider {
  hangCreate = false;
  verifyAnswers: TopUpResult['status'][] = [];
  calls: string[] = [];
  private readonly card: ProviderCard = { providerCardId: 'pc_1', status: 'active', maskedPan: '400000******0002', currency: 'USD', balance: 0 };

  async createCard(): Promise<ProviderCard> {
    this.calls.push('createCard');
    if (this.hangCreate) await new Promise((r) => setTimeout(r, 1_000));
    return this.card;
  }
  getCard(): Promise<ProviderCard> {
    return Promise.resolve(this.card);
  }
  topUp(): Promise<TopUpResult> {
    this.calls.push('topUp');
    return Promise.resolve({ topUpId: 'pt_1', status: 'pending' });
  }
  verifyTopUp(): Promise<TopUpResult> {
    this.calls.push('verifyTopUp');
    return Promise.resolve({ topUpId: 'pt_1', status: this.verifyAnswers.shift() ?? 'succeeded' });
  }
  readCardSecrets() {
    return Promise.resolve({ pan: '4000000000000002', cvv: '321', expiryMonth: 1, expiryYear: 2031 });
  }
}

describe('issuance workflow with a scripted provider', function () {
  this.timeout(30_000);
  const conn = () => testStore().connection;
  let provider: ScriptedProvider;
  let gateway: Gateway;

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
});
