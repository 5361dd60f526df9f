import type { Connection, Model } from 'mongoose';
import { cardModel, type Card } from '../cards/card-model.js';
import type { LedgerService } from '../ledger/ledger-service.js';
import type { Logger } from '../logging/logger.js';
import { OrderCharger } from '../orders/order-charge.js';
import { TERMINAL_STATUSES, type IssueStatus, type Order } from '../orders/order-model.js';
import { ProviderError, type CardProvider, type ProviderCard, type TopUpResult } from '../provider/card-provider.js';
import type { StepOutcome, WorkflowOptions } from '../workflow/issuance-workflow.js';
import { FencedSteps } from '../workflow/fenced-steps.js';
import type { OrderTransitions } from '../workflow/order-transitions.js';
import type { PausePoints } from '../workflow/pause-point.js';
import type { OrderWorkflow } from '../workflow/workflow-registry.js';
import { isFundsOp, type CardOpType, type ChangeOpType, type FundsOpType } from './card-op-requests.js';
import { gatewayStatus, type CardState } from './card-state.js';

/** Per funds operation: its provider call and the issue_status of each step. */
const FUNDS: Record<FundsOpType, { key: string; inProgress: IssueStatus; done: IssueStatus; error: IssueStatus }> = {
  card_topup: { key: 'topup', inProgress: 'topup_in_progress', done: 'topup_done', error: 'topup_error' },
  card_withdraw: { key: 'withdraw', inProgress: 'withdraw_in_progress', done: 'withdraw_done', error: 'withdraw_error' },
};

export interface CardOpWorkflowDeps {
  provider: CardProvider;
  ledger: LedgerService;
  charger: OrderCharger;
  fence: OrderTransitions;
  state: CardState;
  logger: Logger;
  options: WorkflowOptions;
  pauses: PausePoints;
}

/**
 * The workflow of the card_* orders, run by the same worker, claims and fence as card issue:
 *
 *   top-up:   new -> (charged) -> processing/topup_in_progress -> topup_done -> completed
 *             | topup_error -> (refund) -> failed
 *   withdraw: new -> processing/withdraw_in_progress -> withdraw_done -> (credit) -> completed
 *             | withdraw_error -> failed
 *   freeze, unfreeze, terminate: new -> processing/card_change_in_progress -> card_change_done
 *             -> completed | card_change_error -> failed
 *
 * As in issuance, the step that calls the provider is recorded as in progress before the call, the
 * call's key is derived from the order and the step (a repeat after a crash is the same call), an
 * error is recorded before its refund and the refund is unique per order in the ledger. A
 * withdrawal is credited to the master balance only in withdraw_done, after the provider confirmed
 * it; the credit is unique per (order, withdrawal). The gateway's card follows the provider: after
 * each successful call the card is read back and its status and balance stored (card-state.ts).
 */
export class CardOperationWorkflow implements OrderWorkflow {
  private readonly cards: Model<Card>;
  private readonly steps: FencedSteps;

  constructor(
    connection: Connection,
    private readonly deps: CardOpWorkflowDeps,
  ) {
    this.cards = cardModel(connection);
    this.steps = new FencedSteps(deps);
  }

  async step(order: Order): Promise<StepOutcome> {
    if (TERMINAL_STATUSES.includes(order.status)) return { next: 'done' };
    if (order.next_attempt_at && order.next_attempt_at.getTime() > Date.now()) return { next: 'wait' };
    const type = order.order_type as CardOpType;
    if (order.status === 'new') return this.start(order, type);
    if (order.status !== 'processing') return this.steps.misplaced(order);
    if (isFundsOp(type)) {
      const steps = FUNDS[type];
      switch (order.issue_status) {
        case steps.inProgress:
          return order.provider_topup_id === undefined ? this.moveFunds(order, type) : this.verifyFunds(order, type);
        case steps.done:
          return type === 'card_topup' ? this.completeTopUp(order) : this.creditWithdrawal(order);
        case steps.error:
          return this.steps.settleFailure(order);
        default:
          return this.steps.misplaced(order);
      }
    }
    switch (order.issue_status) {
      case 'card_change_in_progress':
        return this.changeCard(order, type);
      case 'card_change_done':
        return this.steps.move(order, { status: 'completed', issue_status: 'completed', completed_at: new Date() }, true);
      case 'card_change_error':
        return this.steps.move(order, { status: 'failed', failed_at: new Date() }, true);
      default:
        return this.steps.misplaced(order);
    }
  }

  private async start(order: Order, type: CardOpType): Promise<StepOutcome> {
    if (type === 'card_topup' && order.balance_after === undefined) {
      const charged = await this.deps.charger.chargeUnderLease(order);
      // Unsettled: the charge is decided and waits for the balance (another process took it).
      if (charged && !OrderCharger.isSettled(charged)) return { next: 'wait' };
      return charged ? { next: 'continue', order: charged } : { next: 'continue' };
    }
    // Terminated since the request was accepted (a terminate of the same card ran first): nothing
    // else can happen to the card, and nothing was sent for this order.
    if (type !== 'card_terminate' && order.card_id && (await this.deps.state.isTerminated(order.card_id))) {
      const errorStatus = isFundsOp(type) ? FUNDS[type].error : 'card_change_error';
      return this.steps.recordError(order, errorStatus, 'card_terminated', 'The card was terminated before the operation ran.', { status: 'processing' });
    }
    return this.steps.move(order, { status: 'processing', issue_status: isFundsOp(type) ? FUNDS[type].inProgress : 'card_change_in_progress' });
  }

  private async moveFunds(order: Order, type: FundsOpType): Promise<StepOutcome> {
    const steps = FUNDS[type];
    let result: TopUpResult;
    try {
      const card = await this.card(order);
      const request = { idempotencyKey: `${order._id}:${steps.key}`, providerCardId: card.provider_card_id, amount: order.data.amount!, currency: order.data.currency! };
      result = await this.steps.call(() => (type === 'card_topup' ? this.deps.provider.topUp(request) : this.deps.provider.withdraw(request)));
    } catch (err) {
      return this.steps.providerFailed(order, err, steps.error, true);
    }
    if (result.status === 'failed') {
      const slug = type === 'card_withdraw' ? 'card_balance_insufficient' : 'provider_declined';
      return this.steps.recordError(order, steps.error, slug, `The provider refused the ${steps.key}.`, { provider_topup_id: result.topUpId });
    }
    await this.deps.pauses.at('topup', order);
    return this.steps.note(order, { provider_topup_id: result.topUpId, attempts: 0, next_attempt_at: new Date() });
  }

  private async verifyFunds(order: Order, type: FundsOpType): Promise<StepOutcome> {
    const steps = FUNDS[type];
    let result: TopUpResult;
    try {
      const card = await this.card(order);
      result = await this.steps.call(() => this.deps.provider.verifyTopUp(card.provider_card_id, order.provider_topup_id!));
    } catch (err) {
      return this.steps.providerFailed(order, err, steps.error, true);
    }
    if (result.status === 'pending') {
      return this.steps.pollLater(order);
    }
    await this.deps.pauses.at('verify', order);
    if (result.status === 'failed') return this.steps.recordError(order, steps.error, 'provider_declined', `The ${steps.key} did not reach the card.`);
    return this.steps.move(order, { issue_status: steps.done });
  }

  private async completeTopUp(order: Order): Promise<StepOutcome> {
    const refreshed = await this.refreshCard(order);
    if (!refreshed) return this.steps.pollLater(order);
    return this.steps.move(order, { status: 'completed', issue_status: 'completed', provider_card_status: refreshed.status, completed_at: new Date() }, true);
  }

  /** The provider confirmed the withdrawal: credit it (once per order), then complete with its snapshots. */
  private async creditWithdrawal(order: Order): Promise<StepOutcome> {
    const { entry } = await this.deps.ledger.append({ project_id: order.project_id, order_id: order._id, kind: 'withdrawal', amount: order.data.amount!, currency: order.data.currency! });
    const refreshed = await this.refreshCard(order);
    if (!refreshed) return this.steps.pollLater(order);
    return this.steps.move(
      order,
      { status: 'completed', issue_status: 'completed', balance_before: entry.balance_before, balance_after: entry.balance_after, provider_card_status: refreshed.status, completed_at: new Date() },
      true,
    );
  }

  private async changeCard(order: Order, type: ChangeOpType): Promise<StepOutcome> {
    let changed: ProviderCard;
    try {
      const card = await this.card(order);
      const request = { idempotencyKey: `${order._id}:${type}`, providerCardId: card.provider_card_id };
      changed = await this.steps.call(() =>
        type === 'card_freeze' ? this.deps.provider.deactivate(request) : type === 'card_unfreeze' ? this.deps.provider.activate(request) : this.deps.provider.terminate(request),
      );
    } catch (err) {
      // The provider refuses a change of a card it terminated: say so rather than "declined".
      if (err instanceof ProviderError && !err.transient && order.card_id && type !== 'card_terminate' && (await this.deps.state.isTerminated(order.card_id))) {
        return this.steps.recordError(order, 'card_change_error', 'card_terminated', 'The card was terminated before the operation ran.');
      }
      return this.steps.providerFailed(order, err, 'card_change_error');
    }
    await this.deps.pauses.at('card', order);
    const refreshed = await this.refreshCard(order, type === 'card_terminate' ? changed : undefined);
    if (!refreshed) return this.steps.pollLater(order);
    return this.steps.move(order, { issue_status: 'card_change_done', provider_card_status: refreshed.status });
  }

  /**
   * Reads the card at the provider and stores its status and balance, in the card's turn so a
   * later answer is never overwritten by an earlier one. A terminate stores its own answer (the
   * provider's terminated is final). Undefined when the provider could not be read: retried.
   */
  private async refreshCard(order: Order, known?: ProviderCard): Promise<ProviderCard | undefined> {
    const card = await this.card(order);
    return this.deps.state.inTurn(card._id, async () => {
      let now: ProviderCard;
      try {
        now = known ?? (await this.steps.call(() => this.deps.provider.getCard(card.provider_card_id)));
      } catch (err) {
        if (!(err instanceof ProviderError)) throw err;
        this.deps.logger.warn('could not read the card back from the provider; retrying', { order_id: order._id, failure: err.failure });
        return undefined;
      }
      const status = gatewayStatus(now.status);
      if (status) await this.deps.state.setStatus(card._id, status, order._id);
      await this.deps.state.setBalance(card._id, now.balance);
      return now;
    });
  }

  private async card(order: Order): Promise<Card> {
    const card = await this.cards.findOne({ _id: order.card_id, project_id: order.project_id }).lean<Card>();
    if (!card) throw new Error(`card ${order.card_id} of order ${order._id} vanished`);
    return card;
  }
}
