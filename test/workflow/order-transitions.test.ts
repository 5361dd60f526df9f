import assert from 'node:assert/strict';
import { ledgerEntryModel } from '../../src/ledger/ledger-entry-model.js';
import { LedgerService } from '../../src/ledger/ledger-service.js';
import { OrderCharger } from '../../src/orders/order-charge.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import { OrderClaims } from '../../src/workflow/order-claims.js';
import { OrderQueue } from '../../src/workflow/order-queue.js';
import { orderTransitionModel, OrderTransitions, stateOf, transitionId } from '../../src/workflow/order-transitions.js';
import { PausePoints } from '../../src/workflow/pause-point.js';
import { testLogger } from '../support/log-capture.js';
import { deposit, makeProject, uniq } from '../support/orders-fixtures.js';
import { testStore } from '../support/test-store.js';

/** The fence itself, on the real store: holders racing one transition, stale writes of the order. */
describe('order transitions (the fence against stale lease holders)', () => {
  const conn = () => testStore().connection;
  const fence = () => new OrderTransitions(conn(), testLogger);
  before(async () => {
    await orderTransitionModel(conn()).createIndexes();
    await ledgerEntryModel(conn()).createIndexes(); // the ledger's unique (order, kind) is part of the story
  });

  async function storedOrder(overrides: Partial<Order> = {}): Promise<Order> {
    const now = new Date();
    const order: Order = {
      _id: uniq('ord'),
      project_id: uniq('prj'),
      order_type: 'card_issue',
      idempotency_key: uniq('key'),
      request_hash: 'h',
      status: 'activating',
      issue_status: 'card_create_pending',
      is_issued: false,
      data: { product_code: 'P', currency: 'USD', external_user_id: 'u', initial_balance: 300, issue_fee: 100, total_charge: 400 },
      rejected: false,
      attempts: 0,
      balance_before: 1000,
      balance_after: 600,
      next_attempt_at: now,
      created_at: now,
      updated_at: now,
      ...overrides,
    };
    await orderModel(conn()).collection.insertOne({ ...order } as never);
    return order;
  }
  const stored = async (id: string) => (await orderModel(conn()).findById(id).lean<Order>())!;

  it('when 20 holders in two processes race the transition out of one state with different decisions, then exactly one is recorded and every holder follows it', async () => {
    const order = await storedOrder();
    const [a, b] = [fence(), fence()];
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).take(order, { set: i % 4 < 2 ? { issue_status: 'card_create_done', card_id: `card_${i}` } : { issue_status: 'card_create_error', last_error_slug: 'provider_timeout' } }),
      ),
    );
    assert.equal(results.filter((r) => r.won).length, 1, 'one insert wins');
    const winner = results.find((r) => r.won)!.transition;
    for (const r of results) assert.deepEqual(r.transition.set, winner.set, 'every holder is handed the winning decision');
    assert.equal(await orderTransitionModel(conn()).countDocuments({ order_id: order._id }), 1);

    const projected = await Promise.all(results.map((r) => a.project(order, r.transition)));
    const doc = await stored(order._id);
    assert.equal(doc.issue_status, winner.set.issue_status, 'the document shows the winner');
    assert.equal(doc.card_id, winner.set.card_id);
    for (const p of projected) assert.equal(p?.issue_status, winner.set.issue_status);
  });

  it('when every transition of the workflow is raced by two holders, then each state is left exactly once', async () => {
    const order = await storedOrder({ status: 'new', issue_status: undefined, balance_after: undefined, balance_before: undefined });
    delete order.issue_status;
    const path: Partial<Order>[] = [
      { balance_before: 1000, balance_after: 600 },
      { status: 'activating', issue_status: 'card_create_pending' },
      { issue_status: 'card_create_done', card_id: 'card_x' },
      { status: 'processing', issue_status: 'initial_topup_pending' },
      { issue_status: 'initial_topup_in_progress' },
      { issue_status: 'initial_topup_done' },
      { status: 'completed', issue_status: 'completed', is_issued: true },
    ];
    const [a, b] = [fence(), fence()];
    let current = order;
    for (const set of path) {
      const [ra, rb] = await Promise.all([a.take(current, { set }), b.take(current, { set: { ...set, last_error: 'the stale one' } })]);
      assert.equal(Number(ra.won) + Number(rb.won), 1, `one of the two leaves ${stateOf(current)}`);
      assert.deepEqual(ra.transition, rb.transition);
      current = (await a.project(current, ra.transition))!;
    }
    assert.equal((await stored(order._id)).status, 'completed');
    assert.equal(await orderTransitionModel(conn()).countDocuments({ order_id: order._id }), path.length);
  });

  it('when a stale holder writes an older state over a later one, then the order is brought back to what its transitions say', async () => {
    const order = await storedOrder();
    const f = fence();
    const done = (await f.take(order, { set: { issue_status: 'card_create_done', card_id: 'card_1' } })).transition;
    const atDone = (await f.project(order, done))!;
    const next = (await f.take(atDone, { set: { status: 'processing', issue_status: 'initial_topup_pending' } })).transition;
    await f.project(atDone, next);
    // What FerretDB's read-then-write allows: a stale holder's write lands after the later one.
    await orderModel(conn()).updateOne({ _id: order._id }, { $set: { status: 'activating', issue_status: 'card_create_pending', attempts: 3 }, $unset: { card_id: 1 } });
    // Any later write of the stale holder sees the log ahead of the state it wrote and repairs it.
    assert.equal(await f.note({ ...order, attempts: 3 }, { attempts: 4 }), undefined, 'its write is not current');
    const doc = await stored(order._id);
    assert.equal(stateOf(doc), 'processing/initial_topup_pending');
    assert.equal(doc.card_id, 'card_1', 'fields of every transition since the state it showed are restored');
    assert.equal(await orderTransitionModel(conn()).exists({ _id: transitionId(order._id, stateOf(doc)) }), null);
  });

  it('when a stale holder projects a transition the order has long passed, then its write changes nothing', async () => {
    const order = await storedOrder();
    const f = fence();
    const done = (await f.take(order, { set: { issue_status: 'card_create_done', card_id: 'card_1' } })).transition;
    const atDone = (await f.project(order, done))!;
    await f.project(atDone, (await f.take(atDone, { set: { status: 'processing', issue_status: 'initial_topup_skipped' } })).transition);
    const before = await stored(order._id);
    const stale = await f.project(order, done);
    assert.equal(stateOf(stale!), 'processing/initial_topup_skipped', 'it is handed the order as it stands');
    assert.deepEqual(await stored(order._id), before);
  });

  describe('the charge, decided once', () => {
    const chargerFor = (ledger: LedgerService) => {
      const claims = new OrderClaims(conn(), 60_000);
      return new OrderCharger(conn(), ledger, claims, new OrderQueue(conn()), 1000, new OrderTransitions(conn(), testLogger), new PausePoints(undefined, 'test', testLogger));
    };

    async function newOrder(projectId: string): Promise<Order> {
      const order = await storedOrder({ project_id: projectId, status: 'new', balance_before: undefined, balance_after: undefined });
      delete order.issue_status;
      await orderModel(conn()).updateOne({ _id: order._id }, { $unset: { issue_status: 1, balance_before: 1, balance_after: 1 } });
      delete order.balance_before;
      delete order.balance_after;
      return order;
    }

    it('when a holder refused for want of funds, then a holder that finds the balance after a deposit does not charge', async () => {
      const project = await makeProject(conn());
      const order = await newOrder(project._id);
      const refused = await chargerFor(new LedgerService(conn())).chargeUnderLease(order);
      assert.equal(refused?.status, 'failed');
      await deposit(conn(), project._id, 10_000);
      const late = await chargerFor(new LedgerService(conn())).chargeUnderLease(order);
      assert.equal(late?.status, 'failed', 'the later holder follows the refusal');
      assert.equal(late?.rejected, true);
      assert.equal(await ledgerEntryModel(conn()).countDocuments({ order_id: order._id }), 0, 'and charges nothing');
    });

    it('when a holder charged the last of the balance, then a stale holder that finds no funds follows the charge instead of failing the order', async () => {
      const project = await makeProject(conn());
      await deposit(conn(), project._id, 400);
      const order = await newOrder(project._id);
      const charged = await chargerFor(new LedgerService(conn())).chargeUnderLease(order);
      assert.equal(charged?.balance_after, 0);
      // The stale holder acts on its copy of the uncharged order and finds the balance at 0.
      const stale = await chargerFor(new LedgerService(conn())).chargeUnderLease(order);
      assert.equal(stale?.status, 'new');
      assert.equal(stale?.balance_after, 0);
      const doc = await stored(order._id);
      assert.equal(doc.status, 'new');
      assert.equal(doc.rejected, false);
      assert.equal(await ledgerEntryModel(conn()).countDocuments({ order_id: order._id, kind: 'charge' }), 1);
    });

    it('when a charge is decided and another process takes the balance before it is appended, then the decision stands, the order waits uncharged, and is charged once funds arrive', async () => {
      const project = await makeProject(conn());
      await deposit(conn(), project._id, 400);
      const staleLedger = new LedgerService(conn());
      assert.equal(await staleLedger.balance(project._id), 400, 'this process remembers the balance at 400');
      const other = await newOrder(project._id);
      assert.equal((await chargerFor(new LedgerService(conn())).chargeUnderLease(other))?.balance_after, 0, 'another process charges it all');
      const order = await newOrder(project._id);
      const waiting = await chargerFor(staleLedger).chargeUnderLease(order);
      assert.equal(OrderCharger.isSettled(waiting!), false);
      assert.ok(waiting!.next_attempt_at!.getTime() > Date.now(), 'due again later');
      assert.equal((await orderTransitionModel(conn()).findById(transitionId(order._id, 'new')).lean())?.to, 'charging', 'the decision stands');
      assert.equal(await ledgerEntryModel(conn()).countDocuments({ order_id: order._id }), 0);
      // Even a holder that now finds no funds cannot refuse it: it follows the recorded decision.
      assert.equal(OrderCharger.isSettled((await chargerFor(new LedgerService(conn())).chargeUnderLease(order))!), false);
      assert.equal((await stored(order._id)).status, 'new');
      await deposit(conn(), project._id, 400);
      const charged = await chargerFor(new LedgerService(conn())).chargeUnderLease(order);
      assert.equal(charged?.balance_after, 0);
      assert.equal(await ledgerEntryModel(conn()).countDocuments({ order_id: order._id, kind: 'charge' }), 1);
    });

    it('when 10 holders in two processes race the charge while a deposit lands, then the order is charged once or refused with no charge', async () => {
      for (let round = 0; round < 3; round++) {
        const project = await makeProject(conn());
        const order = await newOrder(project._id);
        const [a, b] = [chargerFor(new LedgerService(conn())), chargerFor(new LedgerService(conn()))];
        await Promise.all([
          ...Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).chargeUnderLease(order)),
          deposit(conn(), project._id, 400),
        ]);
        const doc = await stored(order._id);
        const charges = await ledgerEntryModel(conn()).countDocuments({ order_id: order._id, kind: 'charge' });
        if (doc.status === 'failed') {
          assert.equal(doc.rejected, true);
          assert.equal(charges, 0, 'refused: nothing charged');
        } else {
          assert.equal(doc.balance_after, 0);
          assert.equal(charges, 1, 'charged exactly once');
        }
      }
    });
  });
});
