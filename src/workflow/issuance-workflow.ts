import type { Connection, Model } from 'mongoose';
import type { CardService } from '../cards/card-service.js';
import type { LedgerService } from '../ledger/ledger-service.js';
import type { Logger } from '../logging/logger.js';
import { orderModel, TERMINAL_STATUSES, type Order } from '../orders/order-model.js';
import { productModel, type Product } from '../products/product-model.js';
import type { CardProvider } from '../provider/card-provider.js';
import { cardIdFor } from '../ids/ids.js';
import { cardModel, type Card } from '../cards/card-model.js';
import { OrderCharger } from '../orders/order-charge.js';
import { FencedSteps } from './fenced-steps.js';
import type { OrderTransitions } from './order-transitions.js';
import type { PausePoints } from './pause-point.js';
import type { OrderWorkflow } from './workflow-registry.js';

export interface WorkflowOptions {
  maxAttempts: number;
  retryBaseMs: number;
  timeoutMs: number;
  /** How often a card the provider holds at `issuing`, or a pending top-up, is asked about again. */
  pollMs: number;
}

/** What the worker should do after a step. */
export type StepResult = 'continue' | 'wait' | 'done';

/**
 * A step's result, with the order as the step left it when that is known without reading it
 * back (the step's own update applied); otherwise the worker reads the order again.
 */
export interface StepOutcome {
  next: StepResult;
  order?: Order;
}

/**
 * The issuance workflow of one card-issue order (contract section 3, lifecycle):
 *
 *   new (charged) -> activating: card_create_pending -> card_create_done | card_create_error
 *   -> processing: initial_topup_pending -> initial_topup_in_progress -> initial_topup_done |
 *      initial_topup_error | initial_topup_verify_error, or initial_topup_skipped
 *   -> completed (issue_status completed, is_issued true)
 *
 * Each call of `step` does one thing and persists it before the next, so a crash anywhere resumes
 * from the last persisted step. Every step is idempotent: provider calls carry keys derived from
 * the order, the card is unique per order, the charge and the refund are unique per order in the
 * ledger. An error is recorded first (its *_error issue_status, still non-terminal), then refunded,
 * then the order is failed, so a crash between them still refunds exactly once.
 *
 * Every change of state is first recorded in the order's transition log (order-transitions.ts),
 * one transition out of each state, and a step whose transition lost follows the winner's: so a
 * holder that paused past its lease can decide what it likes, the store keeps the first decision.
 * Effects that depend on the decision come after it: the card is stored only under a
 * `card_create_done` that won, and the top-up is sent only once `initial_topup_in_progress` is
 * recorded, after which the order can no longer fail as if it had never been sent.
 */
export class IssuanceWorkflow implements OrderWorkflow {
  private readonly orders: Model<Order>;
  private readonly products: Model<Product>;
  private readonly cards: Model<Card>;
  private readonly steps: FencedSteps;

  constructor(
    connection: Connection,
    private readonly deps: {
      provider: CardProvider;
      ledger: LedgerService;
      charger: OrderCharger;
      cards: CardService;
      logger: Logger;
      options: WorkflowOptions;
      fence: OrderTransitions;
      pauses: PausePoints;
    },
  ) {
    this.orders = orderModel(connection);
    this.products = productModel(connection);
    this.cards = cardModel(connection);
    this.steps = new FencedSteps(deps);
  }

  async step(order: Order): Promise<StepOutcome> {
    if (order.order_type !== 'card_issue' || TERMINAL_STATUSES.includes(order.status)) return { next: 'done' };
    if (order.next_attempt_at && order.next_attempt_at.getTime() > Date.now()) return { next: 'wait' };

    switch (order.status) {
      case 'new':
        if (order.balance_after === undefined) {
          const charged = await this.deps.charger.chargeUnderLease(order);
          // Unsettled: the charge is decided and waits for the balance (another process took it).
          if (charged && !OrderCharger.isSettled(charged)) return { next: 'wait' };
          return charged ? { next: 'continue', order: charged } : { next: 'continue' };
        }
        return this.steps.move(order, { status: 'activating', issue_status: 'card_create_pending' });
      case 'activating':
        switch (order.issue_status) {
          case 'card_create_pending':
            return this.createCard(order);
          case 'card_create_done':
            await this.ensureCardStored(order);
            return (order.data.initial_balance ?? 0) > 0
              ? this.steps.move(order, { status: 'processing', issue_status: 'initial_topup_pending' })
              : this.steps.move(order, { status: 'processing', issue_status: 'initial_topup_skipped' });
          case 'card_create_error':
            return this.steps.settleFailure(order);
          default:
            return this.steps.misplaced(order);
        }
      case 'processing':
        switch (order.issue_status) {
          case 'initial_topup_pending':
            // Recorded before the top-up is sent: from here the order cannot fail as if it was not.
            return this.steps.move(order, { issue_status: 'initial_topup_in_progress' });
          case 'initial_topup_in_progress':
            return order.provider_topup_id === undefined ? this.topUp(order) : this.verifyTopUp(order);
          case 'initial_topup_done':
            // Nobody else moves this card's money before its order completes (card_not_ready).
            await this.cards.updateOne({ _id: cardIdFor(order._id) }, { $set: { balance: order.data.initial_balance } });
            return this.steps.move(order, { status: 'completed', issue_status: 'completed', is_issued: true, completed_at: new Date() }, true);
          case 'initial_topup_skipped':
            return this.steps.move(order, { status: 'completed', issue_status: 'completed', is_issued: true, completed_at: new Date() }, true);
          case 'initial_topup_error':
          case 'initial_topup_verify_error':
            return this.steps.settleFailure(order);
          default:
            return this.steps.misplaced(order);
        }
      default:
        return { next: 'done' };
    }
  }

  private async createCard(order: Order): Promise<StepOutcome> {
    const product = await this.products.findOne({ product_code: order.data.product_code }).lean<Product>();
    let card;
    try {
      card = await this.steps.call(() =>
        this.deps.provider.createCard({
          idempotencyKey: `${order._id}:create-card`,
          orderId: order._id,
          projectId: order.project_id,
          productCode: order.data.product_code!,
          currency: order.data.currency!,
          externalUserId: order.data.external_user_id!,
          ...(order.data.label !== undefined ? { label: order.data.label } : {}),
          limits: product?.limits ?? {},
        }),
      );
    } catch (err) {
      return this.steps.providerFailed(order, err, 'card_create_error');
    }
    const seen = { provider_card_id: card.providerCardId, provider_card_status: card.status };
    if (card.status === 'issuing') {
      await this.deps.fence.note(order, { ...seen, attempts: 0, next_attempt_at: this.steps.later(this.deps.options.pollMs) });
      return { next: 'wait' };
    }
    if (card.status !== 'active') {
      return this.steps.recordError(order, 'card_create_error', 'provider_declined', `The provider reported the card ${card.status}.`, seen);
    }
    let secrets;
    try {
      secrets = await this.steps.call(() => this.deps.provider.readCardSecrets(card.providerCardId));
    } catch (err) {
      return this.steps.providerFailed(order, err, 'card_create_error');
    }
    await this.deps.pauses.at('card', order);
    // The card is stored only once card_create_done is the decision that holds (a holder that
    // outlived its lease may have recorded card_create_error first: then there is no card here).
    const { won, transition } = await this.deps.fence.take(order, { set: { issue_status: 'card_create_done', card_id: cardIdFor(order._id), ...seen, attempts: 0, next_attempt_at: new Date() } });
    if (transition.set.issue_status === 'card_create_done' && (won || transition.set.provider_card_id === card.providerCardId)) {
      await this.deps.cards.storeIssued({ order, providerCardId: card.providerCardId, maskedPan: card.maskedPan, secrets });
    }
    return this.steps.projected(order, transition);
  }

  /**
   * The card of a card_create_done order is in the store before the order moves on: the holder
   * whose card_create_done won may have stopped between recording it and storing the card.
   */
  private async ensureCardStored(order: Order): Promise<void> {
    if (await this.cards.exists({ _id: cardIdFor(order._id) })) return;
    const providerCardId = order.provider_card_id!;
    const [card, secrets] = await Promise.all([
      this.steps.call(() => this.deps.provider.getCard(providerCardId)),
      this.steps.call(() => this.deps.provider.readCardSecrets(providerCardId)),
    ]);
    await this.deps.cards.storeIssued({ order, providerCardId, maskedPan: card.maskedPan, secrets });
  }

  private async topUp(order: Order): Promise<StepOutcome> {
    let result;
    try {
      result = await this.steps.call(() =>
        this.deps.provider.topUp({
          idempotencyKey: `${order._id}:topup`,
          providerCardId: order.provider_card_id!,
          amount: order.data.initial_balance!,
          currency: order.data.currency!,
        }),
      );
    } catch (err) {
      return this.steps.providerFailed(order, err, 'initial_topup_error', true);
    }
    if (result.status === 'failed') {
      return this.steps.recordError(order, 'initial_topup_error', 'provider_declined', 'The provider refused the initial top-up.', {
        provider_topup_id: result.topUpId,
      });
    }
    await this.deps.pauses.at('topup', order);
    // Still initial_topup_in_progress: the next step verifies it.
    return this.steps.note(order, { provider_topup_id: result.topUpId, attempts: 0, next_attempt_at: new Date() });
  }

  private async verifyTopUp(order: Order): Promise<StepOutcome> {
    let result;
    try {
      result = await this.steps.call(() => this.deps.provider.verifyTopUp(order.provider_card_id!, order.provider_topup_id!));
    } catch (err) {
      return this.steps.providerFailed(order, err, 'initial_topup_verify_error', true);
    }
    if (result.status === 'pending') {
      return this.steps.pollLater(order);
    }
    await this.deps.pauses.at('verify', order);
    if (result.status === 'failed') {
      return this.steps.recordError(order, 'initial_topup_verify_error', 'provider_declined', 'The initial top-up did not reach the card.');
    }
    return this.steps.move(order, { issue_status: 'initial_topup_done' });
  }
}
