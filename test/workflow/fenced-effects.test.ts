import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createGateway, type Gateway } from '../../src/app.js';
import { cardModel } from '../../src/cards/card-model.js';
import { cardIdFor } from '../../src/ids/ids.js';
import { ledgerEntryModel } from '../../src/ledger/ledger-entry-model.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import { OrderTransitions } from '../../src/workflow/order-transitions.js';
import { waitUntil } from '../support/gateway-process.js';
import { testLogger } from '../support/log-capture.js';
import { deposit, makeCardholder, makeProduct, makeProject } from '../support/orders-fixtures.js';
import { ScriptedProvider } from '../support/scripted-provider.js';
import { testConfig } from '../support/test-config.js';
import { testStore } from '../support/test-store.js';

/**
 * The effects that depend on a decision happen only under the decision that won: a holder whose
 * provider call made the card does not store it when another holder's card_create_error was
 * recorded first, and a card_create_done that won is completed by whoever comes next.
 */
describe('effects under the decision that won', function () {
  this.timeout(30_000);
  const conn = () => testStore().connection;
  let provider: ScriptedProvider;
  let gateway: Gateway;

  beforeEach(async () => {
    provider = new ScriptedProvider();
    gateway = await createGateway({ config: testConfig({ WORKER_LEASE_MS: '1000', PROVIDER_TIMEOUT_MS: '60000' }), logger: testLogger, connection: conn(), cardProvider: provider });
  });

  /**
   * An order charged and at card_create_pending, with a first holder held inside its provider call
   * (it goes on when `resume` is called, and `held` settles when it has stopped).
   */
  async function atCardCreation(): Promise<{ order: Order; resume: () => void; held: Promise<boolean> }> {
    const project = await makeProject(conn());
    const product = await makeProduct(conn(), { issue_fee: 100 });
    await deposit(conn(), project._id, 1000);
    const user = await makeCardholder(conn(), project._id);
    const reply = await gateway.orders.handlers.createCard({ project, body: { product_code: product.product_code, external_user_id: user, initial_balance: '3.00' }, idempotencyKey: randomUUID(), requestId: 't' });
    const id = (reply.data as { order_id: string }).order_id;
    let resume!: () => void;
    provider.createGate = new Promise<void>((r) => (resume = r));
    const held = gateway.orders.worker.runOrder(id);
    await waitUntil(() => provider.calls.includes('createCard'), 10_000, 'the first holder to call the provider');
    provider.createGate = undefined; // later holders are answered at once
    await new Promise((r) => setTimeout(r, 1100)); // the first holder's claim runs out (lease: 1 s)
    return { order: (await orderModel(conn()).findById(id).lean<Order>())!, resume, held };
  }

  async function runToEnd(id: string): Promise<Order> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      await gateway.orders.worker.runOrder(id);
      const order = (await orderModel(conn()).findById(id).lean<Order>())!;
      if (order.status === 'completed' || order.status === 'failed') return order;
      if (Date.now() > deadline) throw new Error(`stuck at ${order.issue_status}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('when another holder recorded card_create_error first, then the card the provider made is not stored and the order fails with its refund', async () => {
    const { order, resume, held } = await atCardCreation();
    // Another holder: its calls timed out, it decided the error, and stopped before writing the order.
    await new OrderTransitions(conn(), testLogger).take(order, { set: { issue_status: 'card_create_error', last_error_slug: 'provider_timeout', last_error: 'timed out' } });
    const done = await runToEnd(order._id);
    // The first holder gets its card from the provider now, long after its lease.
    resume();
    await held;
    assert.equal((await orderModel(conn()).findById(order._id).lean<Order>())?.status, 'failed', 'and the stale holder changed nothing');
    assert.equal(done.status, 'failed');
    assert.equal(done.issue_status, 'card_create_error');
    assert.equal(await cardModel(conn()).countDocuments({ order_id: order._id }), 0, 'no card stored for a failed card creation');
    const refunds = await ledgerEntryModel(conn()).find({ order_id: order._id, kind: 'refund' }).lean();
    assert.deepEqual(refunds.map((r) => r.amount), [400], 'fee and initial balance, once');
  });

  it('when the order shows a card_create_done whose holder stopped before storing the card, then the next holder stores it before the order moves on', async () => {
    const { order, resume, held } = await atCardCreation();
    const fence = new OrderTransitions(conn(), testLogger);
    await fence.take(order, {
      set: { issue_status: 'card_create_done', card_id: cardIdFor(order._id), provider_card_id: 'pc_1', provider_card_status: 'active', attempts: 0, next_attempt_at: new Date() },
    });
    // Its transition is in the order (any later writer's check brings it in), its card is not.
    assert.equal((await fence.catchUp(order._id))?.issue_status, 'card_create_done');
    assert.equal(await cardModel(conn()).countDocuments({ order_id: order._id }), 0);
    const done = await runToEnd(order._id);
    assert.equal(done.status, 'completed');
    assert.ok(provider.calls.includes('readCardSecrets'), 'the card was read again from the provider');
    resume();
    await held;
    const cards = await cardModel(conn()).find({ order_id: order._id }).lean();
    assert.deepEqual(cards.map((c) => [c._id, c.provider_card_id]), [[cardIdFor(order._id), 'pc_1']]);
    assert.equal((await orderModel(conn()).findById(order._id).lean<Order>())?.status, 'completed');
  });
});
