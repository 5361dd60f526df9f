import type { Connection, Model, UpdateQuery } from 'mongoose';
import type { CardService } from '../cards/card-service.js';
import type { Slug } from '../errors/slugs.js';
import type { LedgerService } from '../ledger/ledger-service.js';
import type { Logger } from '../logging/logger.js';
import type { OrderCharger } from '../orders/order-charge.js';
import { orderModel, TERMINAL_STATUSES, type IssueStatus, type Order } from '../orders/order-model.js';
import { refundOwed } from '../orders/refund-policy.js';
import { productModel, type Product } from '../products/product-model.js';
import { ProviderError, type CardProvider, type ProviderFailure } from '../provider/card-provider.js';

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

const FAILURE_SLUG: Record<ProviderFailure, Slug> = {
  declined: 'provider_declined',
  unavailable: 'provider_unavailable',
  timeout: 'provider_timeout',
};

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
 */
export class IssuanceWorkflow {
  private readonly orders: Model<Order>;
  private readonly products: Model<Product>;

  constructor(
    connection: Connection,
    private readonly deps: {
      provider: CardProvider;
      ledger: LedgerService;
      charger: OrderCharger;
      cards: CardService;
      logger: Logger;
      options: WorkflowOptions;
    },
  ) {
    this.orders = orderModel(connection);
    this.products = productModel(connection);
  }

  async step(order: Order): Promise<StepOutcome> {
    if (order.order_type !== 'card_issue' || TERMINAL_STATUSES.includes(order.status)) return { next: 'done' };
    if (order.next_attempt_at && order.next_attempt_at.getTime() > Date.now()) return { next: 'wait' };

    switch (order.status) {
      case 'new':
        if (order.balance_after === undefined) {
          const charged = await this.deps.charger.chargeUnderLease(order);
          return charged ? { next: 'continue', order: charged } : { next: 'continue' };
        }
        return this.move(order, { status: 'activating', issue_status: 'card_create_pending' });
      case 'activating':
        switch (order.issue_status) {
          case 'card_create_pending':
            return this.createCard(order);
          case 'card_create_done':
            return (order.data.initial_balance ?? 0) > 0
              ? this.move(order, { status: 'processing', issue_status: 'initial_topup_pending' })
              : this.move(order, { status: 'processing', issue_status: 'initial_topup_skipped' });
          case 'card_create_error':
            return this.settleFailure(order);
          default:
            return this.misplaced(order);
        }
      case 'processing':
        switch (order.issue_status) {
          case 'initial_topup_pending':
            return this.topUp(order);
          case 'initial_topup_in_progress':
            return this.verifyTopUp(order);
          case 'initial_topup_done':
          case 'initial_topup_skipped':
            return this.move(order, { status: 'completed', issue_status: 'completed', is_issued: true, completed_at: new Date() }, true);
          case 'initial_topup_error':
          case 'initial_topup_verify_error':
            return this.settleFailure(order);
          default:
            return this.misplaced(order);
        }
      default:
        return { next: 'done' };
    }
  }

  private async createCard(order: Order): Promise<StepOutcome> {
    const product = await this.products.findOne({ product_code: order.data.product_code }).lean<Product>();
    let card;
    try {
      card = await this.call(() =>
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
      return this.providerFailed(order, err, 'card_create_error');
    }
    const seen = { provider_card_id: card.providerCardId, provider_card_status: card.status };
    if (card.status === 'issuing') {
      await this.update(order, { ...seen, attempts: 0, next_attempt_at: this.later(this.deps.options.pollMs) });
      return { next: 'wait' };
    }
    if (card.status !== 'active') {
      return this.recordError(order, 'card_create_error', 'provider_declined', `The provider reported the card ${card.status}.`, seen);
    }
    let secrets;
    try {
      secrets = await this.call(() => this.deps.provider.readCardSecrets(card.providerCardId));
    } catch (err) {
      return this.providerFailed(order, err, 'card_create_error');
    }
    const stored = await this.deps.cards.storeIssued({ order, providerCardId: card.providerCardId, maskedPan: card.maskedPan, secrets });
    return this.move(order, { issue_status: 'card_create_done', card_id: stored._id, ...seen });
  }

  private async topUp(order: Order): Promise<StepOutcome> {
    let result;
    try {
      result = await this.call(() =>
        this.deps.provider.topUp({
          idempotencyKey: `${order._id}:topup`,
          providerCardId: order.provider_card_id!,
          amount: order.data.initial_balance!,
          currency: order.data.currency!,
        }),
      );
    } catch (err) {
      return this.providerFailed(order, err, 'initial_topup_error');
    }
    if (result.status === 'failed') {
      return this.recordError(order, 'initial_topup_error', 'provider_declined', 'The provider refused the initial top-up.', {
        provider_topup_id: result.topUpId,
      });
    }
    return this.move(order, { issue_status: 'initial_topup_in_progress', provider_topup_id: result.topUpId });
  }

  private async verifyTopUp(order: Order): Promise<StepOutcome> {
    let result;
    try {
      result = await this.call(() => this.deps.provider.verifyTopUp(order.provider_card_id!, order.provider_topup_id!));
    } catch (err) {
      return this.providerFailed(order, err, 'initial_topup_verify_error');
    }
    if (result.status === 'pending') {
      await this.update(order, { next_attempt_at: this.later(this.deps.options.pollMs) });
      return { next: 'wait' };
    }
    if (result.status === 'failed') {
      return this.recordError(order, 'initial_topup_verify_error', 'provider_declined', 'The initial top-up did not reach the card.');
    }
    return this.move(order, { issue_status: 'initial_topup_done' });
  }

  /** Transient errors back off and retry up to the limit; anything else fails the step now. */
  private async providerFailed(order: Order, err: unknown, errorStatus: IssueStatus): Promise<StepOutcome> {
    if (!(err instanceof ProviderError)) throw err;
    const slug = FAILURE_SLUG[err.failure];
    const attempts = order.attempts + 1;
    if (!err.transient || attempts >= this.deps.options.maxAttempts) {
      return this.recordError(order, errorStatus, slug, `${err.message} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`);
    }
    const backoff = this.deps.options.retryBaseMs * 2 ** (attempts - 1);
    const jitter = Math.random() * this.deps.options.retryBaseMs;
    this.deps.logger.warn('provider call failed; retrying', { order_id: order._id, failure: err.failure, attempts });
    await this.update(order, { attempts, last_error: err.message, next_attempt_at: this.later(backoff + jitter) });
    return { next: 'wait' };
  }

  /** Persists the failed step (still non-terminal) before any money moves. */
  private async recordError(order: Order, errorStatus: IssueStatus, slug: Slug, message: string, extra: Partial<Order> = {}): Promise<StepOutcome> {
    this.deps.logger.warn('order step failed', { order_id: order._id, issue_status: errorStatus, slug });
    return this.move(order, { ...extra, issue_status: errorStatus, last_error_slug: slug, last_error: message });
  }

  /** Refunds what was charged and not delivered (once, by its own ledger entry), then fails the order. */
  private async settleFailure(order: Order): Promise<StepOutcome> {
    const refund = refundOwed({ ...order, status: 'failed' });
    if (refund > 0) {
      await this.deps.ledger.append({ project_id: order.project_id, order_id: order._id, kind: 'refund', amount: refund, currency: order.data.currency! });
    }
    return this.move(order, { status: 'failed', failed_at: new Date() }, true);
  }

  private misplaced(order: Order): StepOutcome {
    this.deps.logger.error('order in an unknown workflow state', { order_id: order._id, status: order.status, issue_status: order.issue_status });
    return { next: 'done' };
  }

  /**
   * Moves the order to its next step. The filter names the step it leaves, so a worker that
   * lost its lease and acts on a stale copy changes nothing, and a terminal order never moves.
   */
  private async move(order: Order, changes: Partial<Order>, terminal = false): Promise<StepOutcome> {
    const set = { ...changes, attempts: 0, ...(terminal ? {} : { next_attempt_at: new Date() }) };
    const moved = await this.update(order, set, terminal ? ['next_attempt_at'] : []);
    return moved ? { next: 'continue', order: moved } : { next: 'continue' };
  }

  /**
   * Writes the step's changes; returns the order as they left it when this update applied (the
   * next step then starts from it without reading it back), undefined when it did not.
   */
  private async update(order: Order, set: Partial<Order>, unset: (keyof Order)[] = []): Promise<Order | undefined> {
    // order.status is never terminal here (step() returned before), so neither is the filter.
    const filter = { _id: order._id, status: order.status, issue_status: order.issue_status ?? { $exists: false } };
    const $set = { ...set, updated_at: new Date() };
    const write: UpdateQuery<Order> = unset.length > 0 ? { $set, $unset: Object.fromEntries(unset.map((k) => [k, 1])) } : { $set };
    // updated_at is set above, so the copy returned carries exactly what the store holds.
    const { modifiedCount } = await this.orders.updateOne(filter, write, { timestamps: false });
    if (modifiedCount !== 1) return undefined;
    const updated: Order = { ...order, ...$set };
    for (const key of unset) delete updated[key];
    return updated;
  }

  private later(ms: number): Date {
    return new Date(Date.now() + ms);
  }

  /** A provider call that does not answer in time is a transient timeout. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        fn(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new ProviderError('timeout', true, 'the provider did not answer in time')),
            this.deps.options.timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
