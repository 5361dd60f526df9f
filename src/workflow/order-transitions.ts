import { Schema, type Connection, type Model, type UpdateQuery } from 'mongoose';
import type { Logger } from '../logging/logger.js';
import { orderModel, type Order } from '../orders/order-model.js';
import { isDuplicateKeyError } from '../store/duplicate-key.js';

/**
 * The fence (docs/workflow.md). A lease alone cannot stop a holder that paused past it, and on
 * FerretDB 1.x a filtered update is a read then a write by _id, so two holders can both "win" it.
 * The one atomic step is an insert against a unique key, so every change of an order's workflow
 * state is first an insert here, keyed by (order, the state it leaves): one transition out of each
 * state can ever exist. The holder whose insert loses follows the winner's transition instead of
 * its own, and each step's effect that depends on the decision (card stored, refund, failure) is
 * made only under the transition that won. The order document is a projection of this log.
 */
export interface OrderTransition {
  /** transitionId(order_id, from): the unique key. */
  _id: string;
  order_id: string;
  /** stateOf() of the order it leaves. */
  from: string;
  /** stateOf() of the order it makes (or `charging`, which the order document never shows). */
  to: string;
  /** The order's fields this transition sets and removes. */
  set: Partial<Order>;
  unset: (keyof Order)[];
  created_at: Date;
}

const transitionSchema = new Schema<OrderTransition>(
  {
    _id: { type: String },
    order_id: { type: String, required: true },
    from: { type: String, required: true },
    to: { type: String, required: true },
    set: { type: Schema.Types.Mixed, required: true, default: {} },
    unset: { type: [String], required: true, default: [] },
    created_at: { type: Date, required: true },
  },
  { versionKey: false, minimize: false },
);
// The _id is the unique key; the index lets support list an order's transitions.
transitionSchema.index({ order_id: 1, created_at: 1 });

export function orderTransitionModel(connection: Connection): Model<OrderTransition> {
  return (
    (connection.models.OrderTransition as Model<OrderTransition> | undefined) ??
    connection.model<OrderTransition>('OrderTransition', transitionSchema, 'order_transitions')
  );
}

export function transitionId(orderId: string, from: string): string {
  return `${orderId}>${from}`;
}

/**
 * The charge's decision (`new` -> `charging`) is recorded before the ledger append; the order
 * document shows `new` until the charge's own transition (`charging` -> `charged`) lands.
 */
export const CHARGING = 'charging';

/** An order's workflow state: the key its next transition is unique on. */
export function stateOf(order: Pick<Order, 'status' | 'issue_status' | 'balance_after'>): string {
  if (order.status === 'new') return order.balance_after === undefined ? 'new' : 'charged';
  return `${order.status}/${order.issue_status ?? '-'}`;
}

/** The state the order document shows for a state of the log. */
function documentState(state: string): string {
  return state === CHARGING ? 'new' : state;
}

/** A filter that matches the order only while its document shows `state`. */
function stateFilter(orderId: string, state: string): Record<string, unknown> {
  const shown = documentState(state);
  if (shown === 'new' || shown === 'charged') return { _id: orderId, status: 'new', balance_after: { $exists: shown === 'charged' } };
  const [status, issue] = shown.split('/');
  return { _id: orderId, status, issue_status: issue === '-' ? { $exists: false } : issue };
}

/** The order as `t` leaves it (in memory). */
export function applied(order: Order, t: Pick<OrderTransition, 'set' | 'unset'>): Order {
  const next: Order = { ...order, ...t.set };
  for (const key of t.unset) delete next[key];
  return next;
}

/** How far catchUp follows the log before giving up (the longest workflow has about ten steps). */
const MAX_CATCH_UP = 32;

export class OrderTransitions {
  private readonly transitions: Model<OrderTransition>;
  private readonly orders: Model<Order>;

  constructor(
    connection: Connection,
    private readonly logger: Logger,
  ) {
    this.transitions = orderTransitionModel(connection);
    this.orders = orderModel(connection);
  }

  /**
   * Records the transition out of `from` (default: the order's current state) to the state
   * `set`/`unset` make, or to `to` when given. Returns the transition that holds: ours when our
   * insert won, else the one recorded first (the caller follows it; its own decision is void).
   */
  async take(
    order: Order,
    change: { set: Partial<Order>; unset?: (keyof Order)[]; from?: string; to?: string },
  ): Promise<{ won: boolean; transition: OrderTransition }> {
    const from = change.from ?? stateOf(order);
    const unset = change.unset ?? [];
    const transition: OrderTransition = {
      _id: transitionId(order._id, from),
      order_id: order._id,
      from,
      to: change.to ?? stateOf(applied(order, { set: change.set, unset })),
      set: change.set,
      unset,
      created_at: new Date(),
    };
    try {
      await this.transitions.collection.insertOne({ ...transition } as never);
      return { won: true, transition };
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
    const winner = await this.transitions.findById(transition._id).lean<OrderTransition>();
    if (!winner) throw new Error(`transition ${transition._id} refused but not found`);
    this.logger.warn('transition already taken by another holder; following it', { order_id: order._id, from, to: winner.to, ours: transition.to });
    return { won: false, transition: winner };
  }

  /** The transition out of `state`, if one was recorded. */
  get(orderId: string, state: string): Promise<OrderTransition | null> {
    return this.transitions.findById(transitionId(orderId, state)).lean<OrderTransition>();
  }

  /**
   * Writes a transition into the order document, only while the document still shows the state it
   * leaves. Returns the order as the store now holds it when that write applied; undefined when the
   * document had moved (another holder projected it, or later ones). Then, and after every write,
   * the document is checked against the log, so a stale projection never stays.
   */
  async project(order: Order, t: OrderTransition): Promise<Order | undefined> {
    const written = await this.write(order, t.from, t.set, t.unset);
    if (written && (await this.isCurrent(written))) return written;
    return (await this.catchUp(order._id)) ?? undefined;
  }

  /**
   * A write that does not change the state (attempts, the next attempt's time, a provider id seen
   * while waiting): applied only while the document shows the order's state, and checked like a
   * projection afterwards. Returns the order as written, or undefined when the order had moved.
   */
  async note(order: Order, set: Partial<Order>): Promise<Order | undefined> {
    const written = await this.write(order, stateOf(order), set, []);
    if (!written) return undefined;
    if (await this.isCurrent(written)) return written;
    await this.catchUp(order._id); // our write landed on an order that had moved on: undo it
    return undefined;
  }

  /**
   * Brings the order document up to the log: from the state it shows, follows the recorded
   * transitions and writes what they set. Returns the order as it now stands.
   */
  async catchUp(orderId: string): Promise<Order | null> {
    for (let round = 0; round < MAX_CATCH_UP; round++) {
      const doc = await this.orders.findById(orderId).lean<Order>();
      if (!doc) return null;
      const shown = stateOf(doc);
      // Each transition's fields in order: a later set or unset of a field wins.
      const set: Record<string, unknown> = {};
      const unset = new Set<string>();
      let state = shown;
      for (let hop = 0; hop < MAX_CATCH_UP; hop++) {
        const t = await this.get(orderId, state);
        if (!t) break;
        for (const [key, value] of Object.entries(t.set)) {
          set[key] = value;
          unset.delete(key);
        }
        for (const key of t.unset) {
          delete set[key];
          unset.add(key);
        }
        state = t.to;
      }
      if (documentState(state) === shown) return doc;
      this.logger.warn('order document behind its transitions; bringing it up to date', { order_id: orderId, shown, state });
      // Checked again in the next round: someone may have written meanwhile.
      await this.write(doc, shown, set, [...unset] as (keyof Order)[]);
    }
    throw new Error(`order ${orderId} did not settle against its transitions`);
  }

  /** The order as written has no transition out of its state yet: nobody moved it on. */
  private async isCurrent(order: Order): Promise<boolean> {
    const shown = stateOf(order);
    let next = await this.get(order._id, shown);
    // `new` -> `charging` leaves the document at `new`: only the charge's own transition moves it.
    if (next && documentState(next.to) === shown) next = await this.get(order._id, next.to);
    return next === null;
  }

  private async write(order: Order, from: string, set: Partial<Order>, unset: (keyof Order)[]): Promise<Order | undefined> {
    const $set = { ...set, updated_at: new Date() };
    const update: UpdateQuery<Order> = unset.length > 0 ? { $set, $unset: Object.fromEntries(unset.map((k) => [k, 1])) } : { $set };
    // updated_at is set above, so the copy returned carries exactly what the store holds.
    const { modifiedCount } = await this.orders.updateOne(stateFilter(order._id, from), update, { timestamps: false });
    if (modifiedCount !== 1) return undefined;
    return applied(order, { set: $set, unset });
  }
}
