import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { auditLogModel, type AuditEntry } from '../../src/back-office/audit-log.js';
import { cardModel } from '../../src/cards/card-model.js';
import { cardIdFor } from '../../src/ids/ids.js';
import { ledgerEntryModel, type LedgerEntry } from '../../src/ledger/ledger-entry-model.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import { queuedOrderModel } from '../../src/workflow/order-queue.js';
import { OrderTransitions } from '../../src/workflow/order-transitions.js';
import { testLogger } from '../support/log-capture.js';
import { assertChainIntact, chainOf, deposit, makeCardholder, makeProduct } from '../support/orders-fixtures.js';
import { createTestProject, startTestGateway, type TestGateway, type TestProject } from '../support/partner.js';
import { setFaults, simulatorEnv, startTestSimulator } from '../support/provider-sim.js';
import { testStore } from '../support/test-store.js';

const TOKEN = 'repair-staff-token-0123456789abcdef0123';

/**
 * Staff's retry, force-fail and refund by hand, through the admin API, against the real store and
 * a provider simulator of this file's own (its faults make the outage that leaves orders stuck).
 */
describe('order repair: retry, force-fail, refund by hand', function () {
  this.timeout(60_000);
  const conn = () => testStore().connection;
  let sim: Awaited<ReturnType<typeof startTestSimulator>>;
  let tg: TestGateway;
  let tp: TestProject;
  let productCode: string;
  let user: string;

  before(async () => {
    sim = await startTestSimulator();
    // A failed provider call backs off for a minute: an order in an outage stays stuck for the test.
    tg = await startTestGateway({
      config: { ...simulatorEnv(sim.sim), ADMIN_TOKENS: `rita:${TOKEN}`, PROVIDER_RETRY_BASE_MS: '60000', PROVIDER_MAX_ATTEMPTS: '100', PROVIDER_TIMEOUT_MS: '1000' },
    });
    tp = await createTestProject({ url: tg.url });
    productCode = (await makeProduct(conn(), { issue_fee: 100 })).product_code;
    user = await makeCardholder(conn(), tp.project._id);
    await deposit(conn(), tp.project._id, 100_000);
  });
  afterEach(async () => {
    await setFaults(sim.sim, {});
  });
  after(async () => {
    await tg.close();
    await sim.stop();
  });

  async function admin(path: string, body: object = {}): Promise<{ status: number; data: Record<string, unknown>; error: { slug: string; message: string; order_id?: string } }> {
    const res = await fetch(`${tg.url}/admin/v1/orders${path}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const payload = (await res.json()) as { data: Record<string, unknown>; error: { slug: string; message: string } };
    return { status: res.status, data: payload.data, error: payload.error };
  }

  const load = async (id: string) => (await orderModel(conn()).findById(id).lean<Order>())!;
  const entriesOf = (id: string) => ledgerEntryModel(conn()).find({ order_id: id }).sort({ seq: 1 }).lean<LedgerEntry[]>();
  const auditOf = (id: string) => auditLogModel(conn()).find({ target: `order:${id}` }).sort({ created_at: 1 }).lean<AuditEntry[]>();
  const worker = () => tg.gateway.orders.worker;

  async function order(initialBalance = '3.00'): Promise<string> {
    const { data } = await tp.client.createCard({ product_code: productCode, external_user_id: user, initial_balance: initialBalance }, { idempotencyKey: randomUUID() });
    return data.order_id;
  }

  /** An order whose card creation failed in a provider outage and now waits out its backoff. */
  async function stuckAtCardCreation(initialBalance = '3.00'): Promise<Order> {
    await setFaults(sim.sim, { error_rate: 1 });
    const id = await order(initialBalance);
    assert.equal(await worker().runOrder(id), true);
    const stuck = await load(id);
    assert.equal(stuck.issue_status, 'card_create_pending');
    assert.equal(stuck.attempts, 1);
    assert.ok(stuck.next_attempt_at!.getTime() > Date.now() + 30_000, 'waiting out its backoff');
    return stuck;
  }

  async function completed(): Promise<Order> {
    const id = await order();
    await worker().runOrder(id);
    const done = await load(id);
    assert.equal(done.status, 'completed');
    return done;
  }

  /** Records the transitions a worker would, one after another (a fixture for states the worker passes at once). */
  async function advance(order: Order, ...steps: Partial<Order>[]): Promise<Order> {
    const fence = new OrderTransitions(conn(), testLogger);
    let current = order;
    for (const set of steps) {
      const { transition } = await fence.take(current, { set: { ...set, attempts: 0, next_attempt_at: new Date(Date.now() + 60_000) } });
      current = (await fence.project(current, transition))!;
    }
    return current;
  }

  describe('retry', () => {
    it('when staff retry an order stuck in a provider outage, then it is due now with its attempts reset, the worker completes it, and the retry is audited', async () => {
      const stuck = await stuckAtCardCreation();
      assert.equal(await worker().runOrder(stuck._id), false, 'not due before the retry');
      await setFaults(sim.sim, {});
      const before = Date.now();
      const res = await admin(`/${stuck._id}/retry`, { reason: 'provider outage over (INC-7)' });
      assert.equal(res.status, 200);
      assert.equal(res.data.order_id, stuck._id);
      assert.equal(res.data.project_id, tp.project._id);
      assert.equal(res.data.issue_status, 'card_create_pending');
      const due = await load(stuck._id);
      assert.equal(due.attempts, 0);
      assert.ok(due.next_attempt_at!.getTime() <= Date.now() && due.next_attempt_at!.getTime() >= before - 1000);
      const entry = await queuedOrderModel(conn()).findById(stuck._id).lean();
      assert.ok(entry && entry.due_at.getTime() <= Date.now(), 'its queue entry is due');

      assert.equal(await worker().runOrder(stuck._id), true);
      const done = await load(stuck._id);
      assert.equal(done.status, 'completed');
      assert.deepEqual((await entriesOf(stuck._id)).map((e) => e.kind), ['charge'], 'charged once, nothing refunded');
      const [audit] = await auditOf(stuck._id);
      assert.deepEqual([audit?.staff, audit?.via, audit?.action, audit?.outcome], ['rita', 'admin_api', 'order.retry', 'applied']);
      assert.deepEqual(audit?.summary, { reason: 'provider outage over (INC-7)' });
      assert.deepEqual(audit?.result, { status: 'activating', issue_status: 'card_create_pending' });
    });

    it('when staff retry a finished order, an unknown one, or send a bad body, then each is refused with its slug and nothing changes', async () => {
      const done = await completed();
      const finished = await admin(`/${done._id}/retry`);
      assert.equal(finished.status, 409);
      assert.equal(finished.error.slug, 'order_not_retryable');
      assert.equal(finished.error.order_id, done._id);
      assert.deepEqual(await load(done._id), done, 'the finished order is untouched');
      const [audit] = await auditOf(done._id);
      assert.deepEqual([audit?.action, audit?.outcome, audit?.error_slug], ['order.retry', 'failed', 'order_not_retryable']);

      const unknown = await admin('/ord_missing/retry');
      assert.equal(unknown.status, 404);
      assert.equal(unknown.error.slug, 'order_not_found');

      const bad = await admin(`/${done._id}/retry`, { reason: 42 });
      assert.equal(bad.status, 400);
      assert.equal(bad.error.slug, 'validation_error');
      assert.equal((await auditOf(done._id)).length, 1, 'a refused body is not even audited');
    });
  });

  describe('force-fail', () => {
    it('when staff fail an order stuck at card creation, then it fails with failed_by_staff, the whole charge comes back once, and the partner sees it', async () => {
      const stuck = await stuckAtCardCreation('3.00');
      const balanceBefore = (await chainOf(conn(), tp.project._id)).at(-1)!.balance_after;
      const res = await admin(`/${stuck._id}/fail`, { reason: 'cardholder asked to cancel' });
      assert.equal(res.status, 200);
      const view = res.data.order as Record<string, unknown>;
      assert.deepEqual([view.status, view.issue_status, view.last_error_slug], ['failed', 'card_create_error', 'failed_by_staff']);
      const refund = res.data.refund as Record<string, unknown>;
      assert.equal(refund.amount, '4.00', 'fee 1.00 and initial balance 3.00');
      assert.equal(refund.balance_before, (balanceBefore / 100).toFixed(2));
      assert.equal(refund.balance_after, ((balanceBefore + 400) / 100).toFixed(2));

      const failed = await load(stuck._id);
      assert.deepEqual([failed.status, failed.issue_status, failed.last_error_slug], ['failed', 'card_create_error', 'failed_by_staff']);
      assert.ok(failed.failed_at);
      assert.equal(failed.next_attempt_at, undefined);
      const entries = await entriesOf(stuck._id);
      assert.deepEqual(entries.map((e) => [e.kind, e.amount]), [['charge', -400], ['refund', 400]]);
      assert.equal(refund.ledger_seq, entries[1]!.seq);
      assertChainIntact(await chainOf(conn(), tp.project._id));
      assert.equal(await cardModel(conn()).countDocuments({ order_id: stuck._id }), 0);

      const seen = (await tp.client.checkOrder({ order_id: stuck._id })).data;
      assert.deepEqual([seen.status, seen.last_error_slug, seen.refunded_amount], ['failed', 'failed_by_staff', '4.00']);

      // The worker finds it finished: it drops the order's queue entry.
      await worker().drain();
      assert.equal(await queuedOrderModel(conn()).countDocuments({ _id: stuck._id }), 0);
      assert.equal((await entriesOf(stuck._id)).length, 2, 'and refunds nothing more');
      const [audit] = await auditOf(stuck._id);
      assert.deepEqual([audit?.staff, audit?.action, audit?.outcome], ['rita', 'order.fail', 'applied']);
      assert.deepEqual(audit?.summary, { reason: 'cardholder asked to cancel' });
      assert.deepEqual(audit?.result, { status: 'failed', issue_status: 'card_create_error', last_error_slug: 'failed_by_staff', refund: { amount: '4.00', ledger_seq: entries[1]!.seq } });
    });

    it('when staff fail an order whose card exists and whose top-up was not sent, then only the initial balance comes back and the card stays', async () => {
      const stuck = await stuckAtCardCreation('3.00');
      // Where a worker puts it after making the card (the fixture: the transitions it records).
      await advance(
        stuck,
        { issue_status: 'card_create_done', card_id: cardIdFor(stuck._id), provider_card_id: 'pc_fixture', provider_card_status: 'active' },
        { status: 'processing', issue_status: 'initial_topup_pending' },
      );
      const res = await admin(`/${stuck._id}/fail`, { reason: 'top-up blocked by compliance' });
      assert.equal(res.status, 200);
      const view = res.data.order as Record<string, unknown>;
      assert.deepEqual([view.status, view.issue_status, view.last_error_slug, view.card_id], ['failed', 'initial_topup_error', 'failed_by_staff', cardIdFor(stuck._id)]);
      assert.deepEqual((await entriesOf(stuck._id)).map((e) => [e.kind, e.amount]), [['charge', -400], ['refund', 300]], 'the fee stays charged');
    });

    it('when staff fail a finished order, one whose top-up may have reached the card, or an unknown one, then each is refused and nothing is refunded', async () => {
      const done = await completed();
      const finished = await admin(`/${done._id}/fail`, { reason: 'too late' });
      assert.equal(finished.status, 409);
      assert.equal(finished.error.slug, 'order_not_failable');
      assert.deepEqual(await load(done._id), done);

      // Card made and the top-up recorded as sent (the fixture: the transitions a worker records).
      const stuck = await stuckAtCardCreation();
      const id = stuck._id;
      const inFlight = await advance(
        stuck,
        { issue_status: 'card_create_done', card_id: cardIdFor(id), provider_card_id: 'pc_fixture', provider_card_status: 'active' },
        { status: 'processing', issue_status: 'initial_topup_pending' },
        { issue_status: 'initial_topup_in_progress' },
      );
      assert.equal((await load(id)).issue_status, 'initial_topup_in_progress');
      const refused = await admin(`/${id}/fail`, { reason: 'outage' });
      assert.equal(refused.status, 409);
      assert.equal(refused.error.slug, 'order_not_failable');
      assert.match(refused.error.message, /initial_topup_in_progress/);
      assert.deepEqual(await load(id), inFlight, 'the order is untouched');
      assert.deepEqual((await entriesOf(id)).map((e) => e.kind), ['charge']);
      const [audit] = await auditOf(id);
      assert.deepEqual([audit?.action, audit?.outcome, audit?.error_slug], ['order.fail', 'failed', 'order_not_failable']);

      assert.equal((await admin('/ord_missing/fail', { reason: 'x' })).error.slug, 'order_not_found');
      const noReason = await admin(`/${id}/fail`, {});
      assert.deepEqual([noReason.status, noReason.error.slug], [400, 'validation_error']);
      const blank = await admin(`/${id}/fail`, { reason: '   ' });
      assert.deepEqual([blank.status, blank.error.slug], [400, 'validation_error']);
    });

  });

  describe('refund by hand', () => {
    /** A failed order whose refund an old bug never wrote: failed through the fence, refund skipped. */
    async function failedWithoutRefund(): Promise<Order> {
      const stuck = await stuckAtCardCreation('2.00');
      const fence = new OrderTransitions(conn(), testLogger);
      const error = await fence.take(stuck, { set: { issue_status: 'card_create_error', last_error_slug: 'provider_unavailable', last_error: 'outage' } });
      const errored = (await fence.project(stuck, error.transition))!;
      const failed = await fence.take(errored, { set: { status: 'failed', failed_at: new Date() }, unset: ['next_attempt_at'] });
      return (await fence.project(errored, failed.transition))!;
    }

    it('when staff refund a failed order whose refund is missing, then the ledger gets exactly that refund with its balances, once, and the partner sees it', async () => {
      const order = await failedWithoutRefund();
      const last = (await chainOf(conn(), tp.project._id)).at(-1)!;
      const res = await admin(`/${order._id}/refund`, { reason: 'INC-12: refund lost by the v1.3 bug' });
      assert.equal(res.status, 201);
      const refund = res.data.refund as Record<string, unknown>;
      assert.deepEqual(
        [refund.amount, refund.ledger_seq, refund.balance_before, refund.balance_after],
        ['3.00', last.seq + 1, (last.balance_after / 100).toFixed(2), ((last.balance_after + 300) / 100).toFixed(2)],
      );
      assert.equal((res.data.order as Record<string, unknown>).status, 'failed');
      assert.deepEqual((await entriesOf(order._id)).map((e) => [e.kind, e.amount]), [['charge', -300], ['refund', 300]]);
      assertChainIntact(await chainOf(conn(), tp.project._id));
      assert.equal((await tp.client.checkOrder({ order_id: order._id })).data.refunded_amount, '3.00');

      const again = await admin(`/${order._id}/refund`, { reason: 'once more' });
      assert.deepEqual([again.status, again.error.slug], [409, 'already_refunded']);
      assert.equal((await entriesOf(order._id)).length, 2);
      const audits = await auditOf(order._id);
      assert.deepEqual(audits.map((a) => [a.action, a.outcome, a.error_slug ?? null]), [['order.refund', 'applied', null], ['order.refund', 'failed', 'already_refunded']]);
      assert.deepEqual(audits[0]!.summary, { reason: 'INC-12: refund lost by the v1.3 bug' });
    });

    it('when staff refund an order already refunded by the worker, an unfinished one, one never charged, or an unknown one, then each is refused and the ledger is unchanged', async () => {
      const stuck = await stuckAtCardCreation();
      const unfinished = await admin(`/${stuck._id}/refund`, { reason: 'x' });
      assert.deepEqual([unfinished.status, unfinished.error.slug], [409, 'refund_not_owed']);

      const failed = await admin(`/${stuck._id}/fail`, { reason: 'cancel' });
      assert.equal(failed.status, 200);
      const refunded = await admin(`/${stuck._id}/refund`, { reason: 'x' });
      assert.deepEqual([refunded.status, refunded.error.slug], [409, 'already_refunded']);
      assert.equal((await entriesOf(stuck._id)).filter((e) => e.kind === 'refund').length, 1);

      // Refused at creation for want of funds: nothing was ever charged.
      const poor = await createTestProject({ url: tg.url });
      await makeCardholder(conn(), poor.project._id, 'verified', user);
      const rejected = await poor.client.createCard({ product_code: productCode, external_user_id: user }, { idempotencyKey: randomUUID() }).catch((e: { orderId?: string; body?: { order_id?: string } }) => e);
      const rejectedId = (rejected as { orderId?: string }).orderId ?? (await orderModel(conn()).findOne({ project_id: poor.project._id }).lean<Order>())!._id;
      const never = await admin(`/${rejectedId}/refund`, { reason: 'x' });
      assert.deepEqual([never.status, never.error.slug], [409, 'refund_not_owed']);
      assert.equal(await ledgerEntryModel(conn()).countDocuments({ project_id: poor.project._id }), 0);

      assert.equal((await admin('/ord_missing/refund', { reason: 'x' })).error.slug, 'order_not_found');
      const noReason = await admin(`/${stuck._id}/refund`);
      assert.deepEqual([noReason.status, noReason.error.slug], [400, 'validation_error']);
    });
  });
});
