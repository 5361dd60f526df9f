import type { Connection, Model } from 'mongoose';
import { z } from 'zod';
import type { Actor, AuditLog } from '../back-office/audit-log.js';
import { exponentOf, toStaffOrderView, type StaffOrderView } from '../back-office/order-lookup.js';
import { parseInput } from '../back-office/validate.js';
import { GatewayError } from '../errors/gateway-error.js';
import { SLUGS } from '../errors/slugs.js';
import type { LedgerEntry } from '../ledger/ledger-entry-model.js';
import { LedgerService } from '../ledger/ledger-service.js';
import type { Logger } from '../logging/logger.js';
import { formatMinor } from '../money/money.js';
import { orderModel, TERMINAL_STATUSES, type Order } from '../orders/order-model.js';
import { refundOwed } from '../orders/refund-policy.js';
import { OrderQueue } from '../workflow/order-queue.js';
import { OrderTransitions } from '../workflow/order-transitions.js';

const reason = z.string().trim().min(1).max(500);
export const retrySchema = z.strictObject({ reason: reason.optional() });
export const failSchema = z.strictObject({ reason });
export const refundSchema = z.strictObject({ reason });

/** A refund ledger entry as staff see it: amounts as decimal strings. */
export interface RefundEntryView {
  amount: string;
  ledger_seq: number;
  balance_before: string;
  balance_after: string;
  created_at: string;
}

export interface RepairResult {
  order: StaffOrderView;
  /** The order's refund entry (made now or before); null when nothing is owed. */
  refund: RefundEntryView | null;
}

/** How often an action looks again at an order another holder moved under it. */
const MAX_ROUNDS = 16;

/**
 * What a force-fail records for the order's present state: the error state the workflow itself
 * would record there (so the refund rule and a crash-resuming worker treat it like any failure),
 * 'settle' for an order whose failure is already recorded, or why it is refused. The rule: only
 * while nothing has gone to the provider that a refund would pay for twice. Card creation may
 * have reached the provider (a card made then has no money on it, as after the worker's own
 * timeouts); once card_create_done holds the card is stored and paid for, and once
 * initial_topup_in_progress holds the top-up may reach the card, so a refund could give the
 * initial balance twice.
 */
function failDecision(order: Order): { set: Pick<Order, 'status' | 'issue_status'> } | 'settle' | { refused: string } {
  if (order.order_type !== 'card_issue') return { refused: 'Only card orders can be failed by hand.' };
  if (TERMINAL_STATUSES.includes(order.status)) return { refused: `The order is ${order.status} already.` };
  switch (order.issue_status) {
    case 'card_create_error':
    case 'initial_topup_error':
    case 'initial_topup_verify_error':
      return 'settle';
    case 'card_create_pending':
      return { set: { status: 'activating', issue_status: 'card_create_error' } };
    case 'initial_topup_pending':
      return { set: { status: 'processing', issue_status: 'initial_topup_error' } };
    case undefined:
      return order.balance_after === undefined
        ? { refused: 'Its charge is being decided; retry it instead.' }
        : { set: { status: 'activating', issue_status: 'card_create_error' } };
    default:
      return { refused: `At ${order.issue_status} the card or its top-up may exist at the provider; retry it instead.` };
  }
}

/**
 * Staff's hands on stuck orders (docs/back-office.md, "Repairing stuck orders"): make one due now,
 * fail one, or refund a failed one whose refund is missing. Each goes through the same rules as
 * the worker, so it races the worker safely: a change of state is a transition of the order's
 * log (the fence, order-transitions.ts), whichever is recorded first wins and the other follows;
 * a refund is the ledger's one refund of the order (unique (order, kind)).
 */
export class OrderRepair {
  private readonly orders: Model<Order>;
  private readonly fence: OrderTransitions;
  private readonly ledger: LedgerService;
  private readonly queue: OrderQueue;

  constructor(
    connection: Connection,
    private readonly audit: AuditLog,
    logger: Logger,
  ) {
    this.orders = orderModel(connection);
    this.fence = new OrderTransitions(connection, logger);
    this.ledger = new LedgerService(connection);
    this.queue = new OrderQueue(connection);
  }

  /** Due now with its attempts reset; the worker (of any process) takes it at its next poll. */
  async retry(actor: Actor, orderId: string, input: unknown): Promise<StaffOrderView> {
    const body = parseInput(retrySchema, input);
    return this.audit.run(
      actor,
      { action: 'order.retry', target: `order:${orderId}`, summary: { reason: body.reason ?? null } },
      async () => {
        for (let round = 0; round < MAX_ROUNDS; round++) {
          const order = await this.current(orderId);
          if (order.order_type !== 'card_issue' || TERMINAL_STATUSES.includes(order.status)) {
            throw new GatewayError('order_not_retryable', `The order is ${order.status}; there is nothing to retry.`, { order_id: orderId });
          }
          const now = new Date();
          // Applied only while the order still shows the state it was read in.
          const noted = await this.fence.note(order, { attempts: 0, next_attempt_at: now });
          if (!noted) continue;
          await this.queue.add(orderId, now); // an entry lost to an old bug comes back
          await this.queue.reschedule(orderId, now);
          return this.view(noted);
        }
        throw new GatewayError('service_unavailable');
      },
      (view) => ({ status: view.status, issue_status: view.issue_status }),
    );
  }

  /** Fails the order through the fence, then refunds what refund-policy says is owed, once. */
  async fail(actor: Actor, orderId: string, input: unknown): Promise<RepairResult> {
    const body = parseInput(failSchema, input);
    return this.audit.run(
      actor,
      { action: 'order.fail', target: `order:${orderId}`, summary: { reason: body.reason } },
      () => this.forceFail(orderId),
      describe,
    );
  }

  /** The refund of a failed order that is owed one and has none (left by an old bug, say). */
  async refund(actor: Actor, orderId: string, input: unknown): Promise<RepairResult> {
    const body = parseInput(refundSchema, input);
    return this.audit.run(
      actor,
      { action: 'order.refund', target: `order:${orderId}`, summary: { reason: body.reason } },
      () => this.refundByHand(orderId),
      describe,
    );
  }

  private async forceFail(orderId: string): Promise<RepairResult> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const order = await this.current(orderId);
      const decision = failDecision(order);
      if (decision === 'settle') return this.settle(order);
      if ('refused' in decision) throw new GatewayError('order_not_failable', decision.refused, { order_id: orderId });
      const { won, transition } = await this.fence.take(order, {
        set: { ...decision.set, last_error_slug: 'failed_by_staff', last_error: SLUGS.failed_by_staff.message, attempts: 0, next_attempt_at: new Date() },
      });
      const moved = await this.fence.project(order, transition);
      // Lost: a holder moved the order first. Look again at where it is now.
      if (won && moved) return this.settle(moved);
      if (won) return this.settle(await this.current(orderId));
    }
    throw new GatewayError('service_unavailable');
  }

  /**
   * From a recorded *_error state to failed, as the worker's settleFailure does it: the refund
   * (the ledger makes a second one, the worker's or ours, the same entry), then the one transition
   * out of the error state, whoever records it.
   */
  private async settle(order: Order): Promise<RepairResult> {
    if (order.status !== 'failed') {
      const owed = refundOwed({ ...order, status: 'failed' });
      if (owed > 0) {
        await this.ledger.append({ project_id: order.project_id, order_id: order._id, kind: 'refund', amount: owed, currency: order.data.currency! });
      }
      const { transition } = await this.fence.take(order, { set: { status: 'failed', failed_at: new Date() }, unset: ['next_attempt_at'] });
      await this.fence.project(order, transition);
      // Due now, so a worker forgets its claims and drops its queue entry, as for any finished order.
      await this.queue.reschedule(order._id, new Date());
    }
    const failed = await this.current(order._id);
    const refund = await this.ledger.entryFor(failed.project_id, failed._id, 'refund');
    return { order: this.view(failed), refund: refund && this.refundView(failed, refund) };
  }

  private async refundByHand(orderId: string): Promise<RepairResult> {
    const order = await this.current(orderId);
    if (order.status !== 'failed') {
      throw new GatewayError('refund_not_owed', `The order is ${order.status}; only a failed order can be refunded by hand.`, { order_id: orderId });
    }
    const owed = refundOwed(order);
    if (owed === 0) throw new GatewayError('refund_not_owed', 'Nothing was charged for this order, or nothing is owed back.', { order_id: orderId });
    const [charge, refunded] = await Promise.all([
      this.ledger.entryFor(order.project_id, orderId, 'charge'),
      this.ledger.entryFor(order.project_id, orderId, 'refund'),
    ]);
    if (refunded) throw new GatewayError('already_refunded', undefined, { order_id: orderId });
    // Giving back a charge the ledger never took would make money.
    if (!charge) throw new GatewayError('refund_not_owed', 'The ledger holds no charge of this order.', { order_id: orderId });
    const { entry, alreadyApplied } = await this.ledger.append({ project_id: order.project_id, order_id: orderId, kind: 'refund', amount: owed, currency: order.data.currency! });
    // Another request's refund got in between the look above and this append.
    if (alreadyApplied) throw new GatewayError('already_refunded', undefined, { order_id: orderId });
    return { order: this.view(order), refund: this.refundView(order, entry) };
  }

  /** The order as its transition log says it stands. */
  private async current(orderId: string): Promise<Order> {
    const order = await this.fence.catchUp(orderId);
    if (!order) throw new GatewayError('order_not_found', undefined, { order_id: orderId });
    return order;
  }

  private view(order: Order): StaffOrderView {
    return toStaffOrderView(order, exponentOf(order.data.currency));
  }

  private refundView(order: Order, entry: LedgerEntry): RefundEntryView {
    const exponent = exponentOf(order.data.currency);
    return {
      amount: formatMinor(entry.amount, exponent),
      ledger_seq: entry.seq,
      balance_before: formatMinor(entry.balance_before, exponent),
      balance_after: formatMinor(entry.balance_after, exponent),
      created_at: entry.created_at.toISOString(),
    };
  }
}

function describe(result: RepairResult): Record<string, unknown> {
  return {
    status: result.order.status,
    issue_status: result.order.issue_status,
    last_error_slug: result.order.last_error_slug,
    refund: result.refund && { amount: result.refund.amount, ledger_seq: result.refund.ledger_seq },
  };
}
