import type { Slug } from '../errors/slugs.js';
import type { LedgerService } from '../ledger/ledger-service.js';
import type { Logger } from '../logging/logger.js';
import type { IssueStatus, Order } from '../orders/order-model.js';
import { refundOwed } from '../orders/refund-policy.js';
import { ProviderError, type ProviderFailure } from '../provider/card-provider.js';
import type { StepOutcome, WorkflowOptions } from './issuance-workflow.js';
import type { OrderTransition, OrderTransitions } from './order-transitions.js';
import type { PausePoints } from './pause-point.js';

const FAILURE_SLUG: Record<ProviderFailure, Slug> = {
  declined: 'provider_declined',
  unavailable: 'provider_unavailable',
  timeout: 'provider_timeout',
};

/** The longest wait between two asks of a money movement whose outcome is unknown. */
export const MONEY_RETRY_MAX_MS = 60_000;

export interface FencedStepsDeps {
  fence: OrderTransitions;
  ledger: LedgerService;
  logger: Logger;
  options: WorkflowOptions;
  pauses: PausePoints;
}

/**
 * The moves every order workflow makes the same way (card issue and the card operations): a
 * state change is the one transition out of the state the order leaves, a provider call is bounded
 * by the workflow's timeout, a transient failure backs off, an error is recorded before its refund
 * and the refund is unique per order in the ledger. The workflows differ in their steps, not here.
 */
export class FencedSteps {
  constructor(private readonly deps: FencedStepsDeps) {}

  /**
   * Moves the order to its next step: recorded as the one transition out of the step it leaves
   * (another holder's, if theirs came first), then written into the order document.
   */
  async move(order: Order, changes: Partial<Order>, terminal = false): Promise<StepOutcome> {
    const set = { ...changes, attempts: 0, ...(terminal ? {} : { next_attempt_at: new Date() }) };
    const { transition } = await this.deps.fence.take(order, { set, unset: terminal ? ['next_attempt_at'] : [] });
    return this.projected(order, transition);
  }

  /** The order as the transition that holds leaves it, when that write is known to have applied. */
  async projected(order: Order, transition: OrderTransition): Promise<StepOutcome> {
    const moved = await this.deps.fence.project(order, transition);
    return moved ? { next: 'continue', order: moved } : { next: 'continue' };
  }

  /** Notes a change inside the current step (no transition) and carries on with the order. */
  async note(order: Order, changes: Partial<Order>): Promise<StepOutcome> {
    const noted = await this.deps.fence.note(order, changes);
    return noted ? { next: 'continue', order: noted } : { next: 'continue' };
  }

  /** The step asks again after the poll interval (a card still issuing, a pending top-up). */
  async pollLater(order: Order): Promise<StepOutcome> {
    await this.deps.fence.note(order, { next_attempt_at: this.later(this.deps.options.pollMs) });
    return { next: 'wait' };
  }

  later(ms: number): Date {
    return new Date(Date.now() + ms);
  }

  /** A provider call that does not answer in time is a transient timeout. */
  async call<T>(fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        fn(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new ProviderError('timeout', true, 'the provider did not answer in time')), this.deps.options.timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Persists the failed step (still non-terminal) before any money moves. */
  async recordError(order: Order, errorStatus: IssueStatus, slug: Slug, message: string, extra: Partial<Order> = {}): Promise<StepOutcome> {
    this.deps.logger.warn('order step failed', { order_id: order._id, issue_status: errorStatus, slug });
    await this.deps.pauses.at('failure', order);
    return this.move(order, { ...extra, issue_status: errorStatus, last_error_slug: slug, last_error: message });
  }

  /**
   * Transient errors back off and retry up to the limit; anything else fails the step now.
   *
   * A call that moves money (`movesMoney`: a load, an unload, their verification) is different: a
   * timeout or a 5xx says nothing of whether the provider moved the money, and failing the order
   * would refund a top-up that reached the card, or drop a withdrawal that left it. So its
   * transient errors are retried with the same idempotency key (the provider answers a repeat with
   * the first outcome) for as long as it takes, the backoff capped at MONEY_RETRY_MAX_MS; only a
   * definitive answer ends the step. Support sees such an order in `processing` with `last_error`,
   * and reconciliation reports it as stuck.
   */
  async providerFailed(order: Order, err: unknown, errorStatus: IssueStatus, movesMoney = false): Promise<StepOutcome> {
    if (!(err instanceof ProviderError)) throw err;
    const attempts = order.attempts + 1;
    if (!err.transient || (!movesMoney && attempts >= this.deps.options.maxAttempts)) {
      return this.recordError(order, errorStatus, FAILURE_SLUG[err.failure], `${err.message} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`);
    }
    const backoff = Math.min(this.deps.options.retryBaseMs * 2 ** Math.min(attempts - 1, 30), movesMoney ? MONEY_RETRY_MAX_MS : Infinity);
    const jitter = Math.random() * this.deps.options.retryBaseMs;
    const message = attempts >= this.deps.options.maxAttempts ? 'provider call failed; the money movement is unresolved, asking again' : 'provider call failed; retrying';
    this.deps.logger.warn(message, { order_id: order._id, failure: err.failure, attempts });
    await this.deps.fence.note(order, { attempts, last_error: err.message, next_attempt_at: this.later(backoff + jitter) });
    return { next: 'wait' };
  }

  /** Refunds what was charged and not delivered (once, by its own ledger entry), then fails the order. */
  async settleFailure(order: Order): Promise<StepOutcome> {
    const refund = refundOwed({ ...order, status: 'failed' });
    if (refund > 0) {
      await this.deps.ledger.append({ project_id: order.project_id, order_id: order._id, kind: 'refund', amount: refund, currency: order.data.currency! });
    }
    // The only way out of an *_error state: whoever records it, the refund above is the same one.
    await this.deps.pauses.at('refund', order);
    return this.move(order, { status: 'failed', failed_at: new Date() }, true);
  }

  misplaced(order: Order): StepOutcome {
    this.deps.logger.error('order in an unknown workflow state', { order_id: order._id, status: order.status, issue_status: order.issue_status });
    return { next: 'done' };
  }
}
