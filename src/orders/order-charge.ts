import type { Connection, Model } from 'mongoose';
import { GatewayError } from '../errors/gateway-error.js';
import { SLUGS } from '../errors/slugs.js';
import { InsufficientFundsError, type LedgerService } from '../ledger/ledger-service.js';
import type { Lease, OrderClaims } from '../workflow/order-claims.js';
import { CHARGING, type OrderTransition, type OrderTransitions } from '../workflow/order-transitions.js';
import type { PausePoints } from '../workflow/pause-point.js';
import type { OrderQueue } from '../workflow/order-queue.js';
import { orderModel, type Order } from './order-model.js';

/** How soon an order whose charge is decided but found the balance taken is tried again. */
const CHARGE_RETRY_MS = 1000;

/** The order refused for want of funds (answered 422, never charged). */
function refusedFields(): Partial<Order> {
  return { status: 'failed', rejected: true, last_error_slug: 'insufficient_funds', last_error: SLUGS.insufficient_funds.message, failed_at: new Date() };
}

/**
 * The charge of a card-issue order: fee plus initial balance, taken from the project's ledger
 * once (unique (order, kind) in the ledger), with the balance snapshots recorded on the order.
 * The request that created the order runs it, a replay of that request runs it, and the worker
 * runs it for an order a crash left uncharged; the lease makes them take turns and the ledger
 * makes a repeat harmless.
 */
export class OrderCharger {
  private readonly orders: Model<Order>;

  constructor(
    connection: Connection,
    private readonly ledger: LedgerService,
    private readonly claims: OrderClaims,
    private readonly queue: OrderQueue,
    /** How long a request waits for another holder of the order before giving up with 503. */
    private readonly waitMs: number,
    private readonly fence: OrderTransitions,
    private readonly pauses: PausePoints,
  ) {
    this.orders = orderModel(connection);
  }

  /** True once the order's charge is decided: charged, or failed without one. */
  static isSettled(order: Order): boolean {
    return order.status !== 'new' || order.balance_after !== undefined;
  }

  /**
   * Returns the order with its charge decided, charging it here if nobody else is. `stored` is the
   * order as this caller just wrote it, which saves the first read. `onCharged` is offered the
   * order and its lease once charged; it returns true when it takes the lease over (the worker
   * goes on with the order at once), else the lease is released here.
   */
  async settle(orderId: string, onCharged?: (order: Order, lease: Lease) => boolean, stored?: Order): Promise<Order> {
    const deadline = Date.now() + this.waitMs;
    for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
      const order = stored ?? (await this.load(orderId));
      const fresh = stored !== undefined;
      stored = undefined;
      if (OrderCharger.isSettled(order)) return order;
      const lease = await this.claims.tryClaim(orderId, { fresh });
      if (lease) {
        const charged = await this.chargeAndPass(order, fresh && lease.epoch === 1, lease, onCharged);
        // Unsettled: decided to charge, and the balance was taken by another process meanwhile.
        if (OrderCharger.isSettled(charged)) return charged;
      }
      if (Date.now() > deadline) throw new GatewayError('service_unavailable');
      await new Promise((r) => setTimeout(r, pause));
    }
  }

  /**
   * Charges under the lease, then passes the lease on or releases it. `firstClaim`: the caller
   * stored this copy and holds the order's first claim ever, so nobody can have charged it since
   * (a charge needs a lease); otherwise the order is read again under the lease.
   */
  private async chargeAndPass(order: Order, firstClaim: boolean, lease: Lease, onCharged?: (order: Order, lease: Lease) => boolean): Promise<Order> {
    let leaseDone = false;
    try {
      const current = firstClaim ? order : await this.load(order._id);
      const charged = (await this.chargeUnderLease(current)) ?? (await this.load(order._id));
      if (charged.status === 'failed') {
        // A refused charge ends the order here; nobody will claim it again.
        await this.claims.forget(order._id);
        await this.queue.remove(order._id);
        leaseDone = true; // its claims are deleted: nothing left to release
      } else if (OrderCharger.isSettled(charged)) {
        leaseDone = onCharged?.(charged, lease) ?? false;
      }
      return charged;
    } finally {
      if (!leaseDone) await lease.release();
    }
  }

  /**
   * The charge itself; the caller holds the order's lease. Idempotent, and fenced by the order's
   * transition log (docs/workflow.md): the decision to charge or to refuse is recorded once before
   * the ledger is touched, and every holder follows the decision that was recorded first. Returns
   * the order as it now stands when known without reading it (undefined: read it); an order whose
   * charge is decided but could not be appended yet comes back unsettled, due again later.
   */
  async chargeUnderLease(order: Order): Promise<Order | undefined> {
    if (OrderCharger.isSettled(order)) return order;
    const total = order.data.total_charge ?? 0;
    if (total <= 0) {
      // Nothing to charge (free product, no initial balance): the snapshot is the balance now, as
      // the first holder to record it read it.
      const balance = await this.ledger.balance(order.project_id);
      const { transition } = await this.fence.take(order, { set: { balance_before: balance, balance_after: balance, next_attempt_at: new Date() } });
      return this.fence.project(order, transition);
    }
    let refusal: OrderTransition | undefined;
    let charged;
    try {
      charged = await this.ledger.chargeOnce(
        { project_id: order.project_id, order_id: order._id, kind: 'charge', amount: -total, currency: order.data.currency! },
        async (covered) => {
          await this.pauses.at('charge', order);
          const { transition } = covered
            ? await this.fence.take(order, { set: {}, to: CHARGING })
            : await this.fence.take(order, { set: refusedFields(), unset: ['next_attempt_at'] });
          if (transition.to === CHARGING) return true;
          refusal = transition;
          return false;
        },
      );
    } catch (err) {
      if (!(err instanceof InsufficientFundsError)) throw err;
      // Decided to charge, and another process took the balance first: the decision stands.
      return (await this.fence.note(order, { next_attempt_at: new Date(Date.now() + CHARGE_RETRY_MS) })) ?? undefined;
    }
    if (!charged) return this.fence.project(order, refusal!);
    const { entry } = charged;
    const snapshots = { balance_before: entry.balance_before, balance_after: entry.balance_after, next_attempt_at: new Date() };
    const { transition } = await this.fence.take(order, { from: CHARGING, set: snapshots });
    return this.fence.project(order, transition);
  }

  private async load(orderId: string): Promise<Order> {
    const order = await this.orders.findById(orderId).lean<Order>();
    if (!order) throw new Error(`order ${orderId} vanished`);
    return order;
  }
}
