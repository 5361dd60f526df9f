import { Schema, type Connection, type Model } from 'mongoose';
import { orderModel, UNFINISHED_STATUSES, type Order } from '../orders/order-model.js';
import { isDuplicateKeyError } from '../store/duplicate-key.js';

/**
 * The worker's to-do list: one entry per unfinished order the worker drives (card issues and card operations), keyed by the order's id,
 * with when it is next due. Polling reads this small collection, not every order ever stored (on
 * the embedded store a query on orders by status reads all of them).
 *
 * The entry is written before its order and deleted after the order is terminal, so an unfinished
 * order always has one, whatever the crash. The order stays the truth: an entry is only a reason
 * to look. An entry whose order is not stored yet is looked at again soon, backing off with its
 * age: its request may be between the two writes, and may store the order and then die before
 * charging it, which leaves the order to this entry alone. Once the entry is older than
 * ORPHAN_GRACE_MS no request is still storing its order (a crash between the two writes): it is
 * dropped.
 */
export interface QueuedOrder {
  _id: string; // the order's id
  due_at: Date;
  created_at: Date;
}

const queuedOrderSchema = new Schema<QueuedOrder>(
  {
    _id: { type: String },
    due_at: { type: Date, required: true },
    created_at: { type: Date, required: true },
  },
  { versionKey: false },
);
queuedOrderSchema.index({ due_at: 1 });

export function queuedOrderModel(connection: Connection): Model<QueuedOrder> {
  return (
    (connection.models.QueuedOrder as Model<QueuedOrder> | undefined) ??
    connection.model<QueuedOrder>('QueuedOrder', queuedOrderSchema, 'order_queue')
  );
}

/** Longer than any request takes between writing an entry and storing its order. */
const ORPHAN_GRACE_MS = 5 * 60_000;
/** How soon an entry without its order is looked at again: its request may store it any moment. */
const ORPHAN_RECHECK_MIN_MS = 1_000;
const ORPHAN_RECHECK_MAX_MS = 15_000;

export class OrderQueue {
  private readonly entries: Model<QueuedOrder>;
  private readonly orders: Model<Order>;

  constructor(connection: Connection) {
    this.entries = queuedOrderModel(connection);
    this.orders = orderModel(connection);
  }

  /** Before the order is stored. A repeat (a replayed create) keeps the first entry. */
  async add(orderId: string, dueAt: Date): Promise<void> {
    try {
      await this.entries.collection.insertOne({ _id: orderId, due_at: dueAt, created_at: new Date() } satisfies QueuedOrder as never);
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
  }

  /** Entries due now, earliest first. */
  async due(limit: number): Promise<QueuedOrder[]> {
    return this.entries.find({ due_at: { $lte: new Date() } }).sort({ due_at: 1 }).limit(limit).lean<QueuedOrder[]>();
  }

  async reschedule(orderId: string, dueAt: Date): Promise<void> {
    await this.entries.updateOne({ _id: orderId }, { $set: { due_at: dueAt } });
  }

  /** After the order is terminal. */
  async remove(orderId: string): Promise<void> {
    await this.entries.deleteOne({ _id: orderId });
  }

  /**
   * The entry names no order (yet): look again in a second, later the older the entry is (a tenth
   * of its age, at most ORPHAN_RECHECK_MAX_MS), and drop it once it is old enough that no request
   * is still storing its order.
   */
  async dropIfOrphan(orderId: string): Promise<void> {
    const entry = await this.entries.findOne({ _id: orderId }).lean<QueuedOrder>();
    if (!entry) return;
    const age = Date.now() - entry.created_at.getTime();
    if (age >= ORPHAN_GRACE_MS) await this.entries.deleteOne({ _id: orderId, created_at: entry.created_at });
    else await this.reschedule(orderId, new Date(Date.now() + Math.min(ORPHAN_RECHECK_MAX_MS, Math.max(ORPHAN_RECHECK_MIN_MS, age / 10))));
  }

  /**
   * Adds entries for unfinished orders (deposits are never unfinished) that have none: orders stored
   * before the queue existed. The worker runs it once, at start, in the background. One equality
   * per unfinished status, each an index search on (status, next_attempt_at): a `$nin` of the
   * finished ones reads every order on the embedded store, which at a million orders is minutes.
   */
  async recover(): Promise<number> {
    let added = 0;
    for (const status of UNFINISHED_STATUSES) {
      const unfinished = this.orders.find({ status }, { _id: 1, next_attempt_at: 1 }).lean<Pick<Order, '_id' | 'next_attempt_at'>[]>().cursor();
      for await (const order of unfinished) {
        if (await this.entries.exists({ _id: order._id })) continue;
        await this.add(order._id, order.next_attempt_at ?? new Date());
        added++;
      }
    }
    return added;
  }
}
