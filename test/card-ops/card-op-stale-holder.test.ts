import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Card } from '../../src/cards/card-model.js';
import type { CardOpType } from '../../src/card-ops/card-op-requests.js';
import type { PartnerClient } from '@card-gateway/client';
import { ledgerEntryModel } from '../../src/ledger/ledger-entry-model.js';
import type { SandboxRuleRequest } from '../../src/provider/sandbox-simulator.js';
import { orderTransitionModel, stateOf, transitionId } from '../../src/workflow/order-transitions.js';
import type { PauseStep } from '../../src/workflow/pause-point.js';
import { waitUntil } from '../support/gateway-process.js';
import { assertChainIntact, chainOf, deposit, makeCardholder, makeProduct } from '../support/orders-fixtures.js';
import { clientFor, createTestProject } from '../support/partner.js';
import { simulatorState } from '../support/provider-sim.js';
import { holderProcesses, loggedFor } from '../support/holder-processes.js';
import { testStore } from '../support/test-store.js';
import { finished, issueCard, providerCard, storedCard, storedOrder } from './card-ops-fixtures.js';

/**
 * The card operations under the stale-holder test of card issue (test/workflow/stale-holder.test.ts):
 * a real gateway process is stopped (SIGSTOP) in the middle of a card operation's step, after the
 * provider answered and before the store hears of it, for longer than its lease; a second process
 * takes the order over and finishes it; then the first is resumed (SIGCONT) with its stale view.
 * The order must end with exactly one charge, credit or refund, one provider load, and the card's
 * state as the provider has it.
 */
describe('card operations: stale lease holders (SIGSTOP past the lease, SIGCONT after the take-over)', function () {
  this.timeout(300_000);
  const conn = () => testStore().connection;
  const holders = holderProcesses('opstale', { WORKER_LEASE_MS: '1000', PROVIDER_RETRY_BASE_MS: '10' });
  const { start, stop } = holders;

  interface Scenario {
    op: Extract<CardOpType, 'card_topup' | 'card_withdraw' | 'card_freeze'>;
    step: PauseStep;
    rule: Partial<SandboxRuleRequest>;
    outcome: 'completed' | 'failed';
  }
  const INITIAL = 1000;
  const AMOUNT = 300;
  const scenarios: Scenario[] = [
    { op: 'card_topup', step: 'topup', rule: {}, outcome: 'completed' },
    { op: 'card_topup', step: 'verify', rule: {}, outcome: 'completed' },
    { op: 'card_topup', step: 'failure', rule: { topup_result: 'fail' }, outcome: 'failed' },
    { op: 'card_topup', step: 'refund', rule: { topup_result: 'verify_fail' }, outcome: 'failed' },
    { op: 'card_withdraw', step: 'topup', rule: {}, outcome: 'completed' },
    { op: 'card_freeze', step: 'card', rule: {}, outcome: 'completed' },
  ];

  const send = (client: PartnerClient, op: Scenario['op'], card: Card) => {
    const options = { idempotencyKey: randomUUID() };
    if (op === 'card_freeze') return client.freeze({ card_id: card._id }, options);
    const body = { card_id: card._id, amount: (AMOUNT / 100).toFixed(2), currency: 'USD' };
    return op === 'card_topup' ? client.topUp(body, options) : client.withdraw(body, options);
  };

  for (const s of scenarios) {
    it(`when a worker is stopped past its lease at the ${s.step} step of a ${s.op} and resumed after another finished it, then the order ends ${s.outcome} with its money moved exactly once`, async () => {
      const partner = await createTestProject({ url: 'http://127.0.0.1:1' });
      const project = partner.project;
      const product = await makeProduct(conn(), { issue_fee: 0 });
      await deposit(conn(), project._id, 100_000);
      const user = await makeCardholder(conn(), project._id);

      // The card is issued by a process without the pause, then the rule of the scenario applies.
      const issuer = await start();
      const card = await issueCard(conn(), clientFor(issuer.url, project._id, partner.keys), product.product_code, user, (INITIAL / 100).toFixed(2));
      await stop(issuer);
      await holders.gateway().orders.simulator!.setRule(project._id, { card_issue: 'auto', topup_result: 'succeed', ...s.rule, external_user_id: user });
      const balanceBefore = (await chainOf(conn(), project._id)).at(-1)!.balance_after;

      const stale = await start({ WORKFLOW_PAUSE_AT: `${s.step}@${project._id}` });
      const accepted = await send(clientFor(stale.url, project._id, partner.keys), s.op, card);
      assert.equal(accepted.status, 201);
      const orderId = accepted.data.order_id;
      await waitUntil(() => loggedFor(stale, 'workflow paused for a test', orderId), 60_000, `the first process to reach the ${s.step} step`);
      stale.child.kill('SIGSTOP');

      const next = await start();
      const order = await finished(conn(), orderId, 120_000);
      await stop(next);
      stale.child.kill('SIGCONT');
      await waitUntil(() => loggedFor(stale, 'workflow resumed', orderId), 30_000, 'the stopped process to resume');
      await stop(stale);

      const final = await storedOrder(conn(), orderId);
      assert.equal(final.status, s.outcome, `${final.status}/${final.issue_status} ${final.last_error ?? ''}`);
      assert.equal(final.status, order.status, 'the resumed holder changed nothing after the order finished');
      assert.equal(await orderTransitionModel(conn()).exists({ _id: transitionId(orderId, stateOf(final)) }), null, 'no transition out of the final state');

      const entries = await ledgerEntryModel(conn()).find({ order_id: orderId }).lean();
      const kinds = entries.map((e) => `${e.kind}:${e.amount}`).sort();
      const loads = (await simulatorState()).loads.filter((l) => l.cardId === card.provider_card_id && l.amount === AMOUNT);
      const atProvider = await providerCard(card);
      const stored = await storedCard(conn(), card._id);
      if (s.op === 'card_topup') {
        assert.deepEqual(kinds, s.outcome === 'completed' ? [`charge:${-AMOUNT}`] : [`charge:${-AMOUNT}`, `refund:${AMOUNT}`].sort(), 'charged once, refunded at most once');
        assert.equal(loads.length, 1, 'one load at the provider');
        assert.equal(atProvider.balance, s.outcome === 'completed' ? INITIAL + AMOUNT : INITIAL);
      } else if (s.op === 'card_withdraw') {
        assert.deepEqual(kinds, [`withdrawal:${AMOUNT}`], 'credited once');
        assert.equal(loads.length, 1, 'one unload at the provider');
        assert.equal(atProvider.balance, INITIAL - AMOUNT);
      } else {
        assert.deepEqual(kinds, []);
        assert.equal(atProvider.status, 'inactive');
        assert.equal(stored.status, 'frozen');
      }
      assert.equal(stored.balance, atProvider.balance, 'the gateway holds the balance the provider has');
      const chain = await chainOf(conn(), project._id);
      assertChainIntact(chain);
      const net = entries.reduce((sum, e) => sum + e.amount, 0);
      assert.equal(chain.at(-1)!.balance_after, balanceBefore + net);
    });
  }
});
