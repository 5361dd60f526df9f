import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { cardModel } from '../../src/cards/card-model.js';
import { cardIdFor } from '../../src/ids/ids.js';
import { ledgerEntryModel } from '../../src/ledger/ledger-entry-model.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import type { Product } from '../../src/products/product-model.js';
import type { SandboxRuleRequest } from '../../src/provider/sandbox-simulator.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { reportTable } from '../../src/reconcile/report-table.js';
import { orderTransitionModel, stateOf, transitionId } from '../../src/workflow/order-transitions.js';
import type { PauseStep } from '../../src/workflow/pause-point.js';
import { waitUntil } from '../support/gateway-process.js';
import { assertExactlyOnce, deposit, makeCardholder, makeProduct } from '../support/orders-fixtures.js';
import { clientFor, createTestProject, type TestProject } from '../support/partner.js';
import { holderProcesses, loggedFor } from '../support/holder-processes.js';
import { testStore } from '../support/test-store.js';

/**
 * Issue 11, "Stale holder": a real gateway process is stopped (SIGSTOP) in the middle of a step,
 * after its decision and before the store hears of it, for longer than its lease; a second process
 * takes the order over and finishes it; then the first is resumed (SIGCONT) and goes on with its
 * stale decision. Whatever it does, every order must end with exactly the charges, cards and
 * refunds its final status implies. Everything is checked in the gateway's own store (orders,
 * ledger, cards, the transition log) and by the reconciler, not in the provider.
 */
describe('stale lease holders (SIGSTOP past the lease, SIGCONT after the take-over)', function () {
  this.timeout(300_000);
  const conn = () => testStore().connection;
  const holders = holderProcesses('stale', { WORKER_LEASE_MS: '1000', PROVIDER_RETRY_BASE_MS: '10' });
  const { start, stop } = holders;

  interface Scenario {
    step: PauseStep;
    rule: Partial<SandboxRuleRequest>;
    outcome: 'completed' | 'failed';
    /** The issue's known path: refused for want of funds, a deposit, the next holder charges. */
    fundedWhilePaused?: boolean;
    /** Cards the order ends with in the gateway's store. */
    cards: 0 | 1;
    /** The refund its final status implies, minor units. */
    refund: number;
  }
  const FEE = 100;
  const INITIAL = 200;
  const scenarios: Scenario[] = [
    { step: 'charge', rule: {}, outcome: 'completed', fundedWhilePaused: true, cards: 1, refund: 0 },
    { step: 'card', rule: {}, outcome: 'completed', cards: 1, refund: 0 },
    { step: 'topup', rule: {}, outcome: 'completed', cards: 1, refund: 0 },
    { step: 'verify', rule: {}, outcome: 'completed', cards: 1, refund: 0 },
    { step: 'failure', rule: { topup_result: 'fail' }, outcome: 'failed', cards: 1, refund: INITIAL },
    { step: 'refund', rule: { create_card_failure: { failure: 'declined', times: 1 } }, outcome: 'failed', cards: 0, refund: FEE + INITIAL },
  ];

  for (const s of scenarios) {
    it(`when a worker is stopped past its lease in the middle of the ${s.step} step and resumed after another took the order over, then the order ends ${s.outcome} with exactly its charge, ${s.cards} card(s) and ${s.refund ? 'its refund' : 'no refund'}`, async () => {
      const partner: TestProject = await createTestProject({ url: 'http://127.0.0.1:1' });
      const project = partner.project;
      const product: Product = await makeProduct(conn(), { issue_fee: FEE });
      if (!s.fundedWhilePaused) await deposit(conn(), project._id, 100_000);
      const user = await makeCardholder(conn(), project._id);
      await holders.gateway().orders.simulator!.setRule(project._id, { card_issue: 'auto', topup_result: 'succeed', ...s.rule, external_user_id: user });

      const stale = await start({ WORKFLOW_PAUSE_AT: `${s.step}@${project._id}` });
      const created = clientFor(stale.url, project._id, partner.keys).createCard(
        { product_code: product.product_code, external_user_id: user, initial_balance: (INITIAL / 100).toFixed(2) },
        { idempotencyKey: randomUUID() },
      );
      await waitUntil(() => loggedFor(stale, 'workflow paused for a test'), 60_000, `the first process to reach the ${s.step} step`);
      stale.child.kill('SIGSTOP');
      const line = stale.output.find((l) => l.includes('"message":"workflow paused for a test"'))!;
      const orderId = (JSON.parse(line) as { order_id: string }).order_id;
      if (s.fundedWhilePaused) await deposit(conn(), project._id, 100_000);

      // Another process takes the order over once the stopped one's lease has run out.
      const next = await start();
      const terminal = async () => ['completed', 'failed'].includes((await orderModel(conn()).findById(orderId).lean<Order>())?.status ?? '');
      await waitUntil(terminal, 120_000, 'the second process to finish the order');
      await stop(next);

      stale.child.kill('SIGCONT');
      await waitUntil(() => loggedFor(stale, 'workflow resumed', orderId), 30_000, 'the stopped process to resume');
      const answer = await created; // the request's answer, stale or not, is the order's (201)
      assert.equal(answer.status, 201);
      assert.equal(answer.data.order_id, orderId);
      await stop(stale);

      const order = (await orderModel(conn()).findById(orderId).lean<Order>())!;
      assert.equal(order.status, s.outcome, `${order.status}/${order.issue_status} ${order.last_error ?? ''}`);
      assert.equal(order.rejected, false);
      assert.equal(await orderTransitionModel(conn()).exists({ _id: transitionId(orderId, stateOf(order)) }), null, 'the order shows the last of its transitions');
      await assertExactlyOnce(conn(), project._id);
      const entries = await ledgerEntryModel(conn()).find({ order_id: orderId }).lean();
      assert.deepEqual(entries.filter((e) => e.kind === 'charge').map((e) => e.amount), [-(FEE + INITIAL)], 'charged once, in full');
      assert.deepEqual(entries.filter((e) => e.kind === 'refund').map((e) => e.amount), s.refund ? [s.refund] : []);
      const cards = await cardModel(conn()).find({ order_id: orderId }).lean();
      assert.equal(cards.length, s.cards);
      if (s.cards) assert.equal(cards[0]!._id, cardIdFor(orderId));
      const report = await new Reconciler(conn()).run({ stuckAfterS: 900, settleS: 0, projectIds: [project._id] });
      assert.equal(report.ok, true, reportTable(report));

      // One path of transitions from `new` to the final state, and nothing beside it.
      const log = await orderTransitionModel(conn()).find({ order_id: orderId }).lean();
      const byFrom = new Map(log.map((t) => [t.from, t]));
      let state = 'new';
      for (let hops = 0; byFrom.has(state) && hops < log.length; hops++) state = byFrom.get(state)!.to;
      assert.equal(state, stateOf(order), 'the log leads to the state the order shows');
      if (s.fundedWhilePaused) assert.equal(byFrom.get('new')?.to, 'charging', 'the charge decision held, not the stale refusal');
      // The stale holder's own decision reached the store and was refused there, then it followed the winner.
      if (s.step !== 'topup') assert.ok(loggedFor(stale, 'transition already taken by another holder; following it', orderId), stale.output.join('\n'));
    });
  }
});
