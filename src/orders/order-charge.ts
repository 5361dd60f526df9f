import type { Connection, Model } from 'mongoose';
import { GatewayError } from '../errors/gateway-error.js';
import { SLUGS } from '../errors/slugs.js';
import { InsufficientFundsError, type LedgerService } from '../ledger/ledger-service.js';
import type { Lease, OrderClaims } from '../workflow/order-claims.js';
import type { OrderQueue } from '../workflow/order-queue.js';
import { orderModel, type Order } from './order-model.js';

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
      if (lease) return this.chargeAndPass(order, fresh && lease.epoch === 1, lease, onCharged);
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
      } else {
        leaseDone = onCharged?.(charged, lease) ?? false;
      }
      return charged;
    } finally {
      if (!leaseDone) await lease.release();
    }
  }

  /**
   * The charge itself; the caller holds the order's lease. Idempotent. Returns the order as it now
   * stands when this call's update is known to have applied, else undefined (read it).
   */
  async chargeUnderLease(order: Order): Promise<Order | undefined> {
    if (OrderCharger.isSettled(order)) return order;
    const total = order.data.total_charge ?? 0;
    let balanceBefore: number;
    let balanceAfter: number;
    if (total > 0) {
      try {
        const { entry } = await this.ledger.append({
          project_id: order.project_id,
          order_id: order._id,
          kind: 'charge',
          amount: -total,
          currency: order.data.currency!,
        });
        balanceBefore = entry.balance_before;
        balanceAfter = entry.balance_after;
      } catch (err) {
        if (!(err instanceof InsufficientFundsError)) throw err;
        const now = new Date();
        const refused = {
          status: 'failed',
          rejected: true,
          last_error_slug: 'insufficient_funds',
          last_error: SLUGS.insufficient_funds.message,
          failed_at: now,
          updated_at: now,
        } as const;
        const { modifiedCount } = await this.orders.updateOne(
          { _id: order._id, status: 'new', balance_after: { $exists: false } },
          { $set: refused, $unset: { next_attempt_at: 1 } },
          { timestamps: false }, // updated_at is set above, so the copy returned matches the store
        );
        if (modifiedCount !== 1) return undefined;
        const failed: Order = { ...order, ...refused };
        delete failed.next_attempt_at;
        return failed;
      }
    } else {
      // Nothing to charge (free product, no initial balance): the snapshot is the balance now.
      balanceBefore = balanceAfter = await this.ledger.balance(order.project_id);
    }
    const now = new Date();
    const snapshots = { balance_before: balanceBefore, balance_after: balanceAfter, next_attempt_at: now, updated_at: now };
    const { modifiedCount } = await this.orders.updateOne({ _id: order._id, status: 'new' }, { $set: snapshots }, { timestamps: false });
    return modifiedCount === 1 ? { ...order, ...snapshots } : undefined;
  }

  private async load(orderId: string): Promise<Order> {
    const order = await this.orders.findById(orderId).lean<Order>();
    if (!order) throw new Error(`order ${orderId} vanished`);
    return order;
  }
}
