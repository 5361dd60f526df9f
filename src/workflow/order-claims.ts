import { randomBytes } from 'node:crypto';
import { Schema, type Connection, type Model } from 'mongoose';
import { isDuplicateKeyError } from '../store/duplicate-key.js';

/**
 * Who may work on an order, and until when. FerretDB has no compare-and-swap, so a claim is an
 * insert: claim n+1 of an order can be inserted once only (unique (order_id, epoch)), and only
 * after claim n expired. The latest epoch is the holder; others leave the order alone until its
 * lease expires. Every workflow step is idempotent as well, because a paused holder can outlive
 * its lease and overlap the next one.
 */
export interface OrderClaim {
  /** claimId(order_id, epoch): the claims of an order are found by `_id`, epoch after epoch. */
  _id: string;
  order_id: string;
  epoch: number;
  owner: string;
  expires_at: Date;
  created_at: Date;
}

const claimSchema = new Schema<OrderClaim>(
  {
    _id: { type: String },
    order_id: { type: String, required: true },
    epoch: { type: Number, required: true },
    owner: { type: String, required: true },
    expires_at: { type: Date, required: true },
    created_at: { type: Date, required: true },
  },
  { versionKey: false },
);
// The _id already makes (order_id, epoch) unique; the index also covers claims written before ids
// were derived, and lets support list an order's claims.
claimSchema.index({ order_id: 1, epoch: 1 }, { unique: true });

export function claimId(orderId: string, epoch: number): string {
  return `${orderId}:${epoch}`;
}

export function orderClaimModel(connection: Connection): Model<OrderClaim> {
  return (
    (connection.models.OrderClaim as Model<OrderClaim> | undefined) ??
    connection.model<OrderClaim>('OrderClaim', claimSchema, 'order_claims')
  );
}

/** What this process knows of an order's latest claim. */
interface KnownClaim {
  epoch: number;
  expiresAt: number;
  /** Made by this process: then expiresAt is exact (a claim of another owner may have been renewed). */
  own: boolean;
}

export class Lease {
  private expiresAt: number;

  constructor(
    private readonly claims: Model<OrderClaim>,
    readonly orderId: string,
    readonly epoch: number,
    private readonly owner: string,
    private readonly leaseMs: number,
    expiresAt: Date,
    /** Tells the OrderClaims that made this lease how long it now runs. */
    private readonly onExpiryChange: (expiresAt: number) => void,
  ) {
    this.expiresAt = expiresAt.getTime();
  }

  /** Still ours: not expired by our own clock, our claim still there, and no later claim. */
  async holds(): Promise<boolean> {
    if (Date.now() >= this.expiresAt) return false;
    const [ours, next] = await Promise.all([
      this.claims.findOne({ _id: claimId(this.orderId, this.epoch), owner: this.owner }, { _id: 1 }).lean(),
      this.claims.findOne({ _id: claimId(this.orderId, this.epoch + 1) }, { _id: 1 }).lean(),
    ]);
    return ours !== null && next === null;
  }

  /** Extends the lease when less than half is left; false when it was lost. */
  async renew(): Promise<boolean> {
    if (this.expiresAt - Date.now() > this.leaseMs / 2) return true;
    if (!(await this.holds())) return false;
    const expiresAt = new Date(Date.now() + this.leaseMs);
    await this.claims.updateOne({ _id: claimId(this.orderId, this.epoch), owner: this.owner }, { $set: { expires_at: expiresAt } });
    this.expiresAt = expiresAt.getTime();
    this.onExpiryChange(this.expiresAt);
    return true;
  }

  /** Lets the next claimer in at once instead of after expiry. */
  async release(): Promise<void> {
    this.expiresAt = 0;
    this.onExpiryChange(0);
    await this.claims.updateOne({ _id: claimId(this.orderId, this.epoch), owner: this.owner }, { $set: { expires_at: new Date(0) } });
  }
}

/** How many orders' latest claims a process remembers (a finished order is forgotten at once). */
const REMEMBERED_ORDERS = 50_000;

export class OrderClaims {
  private readonly claims: Model<OrderClaim>;
  /** This process: claims name their owner so a lease is never mistaken for another's. */
  readonly owner = `${process.pid}-${randomBytes(4).toString('hex')}`;
  /** Per order, the latest claim seen here: where the walk to the latest claim starts. */
  private readonly known = new Map<string, KnownClaim>();

  constructor(
    connection: Connection,
    private readonly leaseMs: number,
  ) {
    this.claims = orderClaimModel(connection);
  }

  /**
   * The lease, or undefined while someone else holds the order. `fresh`: the caller has just
   * created the order, so it has no claims yet.
   */
  async tryClaim(orderId: string, options: { fresh?: boolean } = {}): Promise<Lease | undefined> {
    const known = this.known.get(orderId);
    const now = Date.now();
    // When this process made the latest claim it knows of and that claim has ended, or the order is
    // brand new, the next epoch is claimed without reading first. A claim we did not know of makes
    // the insert fail, and the walk below decides.
    if (known?.own ? known.expiresAt <= now : options.fresh && !known) {
      const lease = await this.insertClaim(orderId, (known?.epoch ?? 0) + 1, now);
      if (lease) return lease;
    }
    const latest = await this.latest(orderId);
    if (latest && latest.expires_at.getTime() > now) return undefined;
    return this.insertClaim(orderId, (latest?.epoch ?? 0) + 1, now);
  }

  /** A finished order needs no claims any more. */
  async forget(orderId: string): Promise<void> {
    const known = this.known.get(orderId);
    // The finisher holds (or just held) the latest claim itself: no need to look for it.
    const last = known?.own ? known.epoch : ((await this.latest(orderId))?.epoch ?? 0);
    this.known.delete(orderId);
    const epochs = Array.from({ length: last }, (_, i) => i + 1);
    await Promise.all(epochs.map((epoch) => this.claims.deleteOne({ _id: claimId(orderId, epoch) })));
  }

  private async insertClaim(orderId: string, epoch: number, now: number): Promise<Lease | undefined> {
    const expiresAt = new Date(now + this.leaseMs);
    const claim: OrderClaim = { _id: claimId(orderId, epoch), order_id: orderId, epoch, owner: this.owner, expires_at: expiresAt, created_at: new Date(now) };
    try {
      await this.claims.collection.insertOne(claim as never);
    } catch (err) {
      if (isDuplicateKeyError(err)) return undefined;
      throw err;
    }
    this.remember(orderId, { epoch, expiresAt: expiresAt.getTime(), own: true });
    return new Lease(this.claims, orderId, epoch, this.owner, this.leaseMs, expiresAt, (until) => {
      const current = this.known.get(orderId);
      if (current?.epoch === epoch && current.own) current.expiresAt = until;
    });
  }

  /**
   * The order's latest claim: from the epoch last seen here (else 1), walk forward by `_id` until
   * the next epoch is missing. Claims are inserted in epoch order and only deleted all together.
   */
  private async latest(orderId: string): Promise<OrderClaim | null> {
    const from = this.known.get(orderId)?.epoch ?? 1;
    let latest = await this.claim(orderId, from);
    if (!latest && from > 1) latest = await this.claim(orderId, 1); // forgotten meanwhile: start over
    if (!latest) return null;
    for (;;) {
      const next = await this.claim(orderId, latest.epoch + 1);
      if (!next) break;
      latest = next;
    }
    this.remember(orderId, { epoch: latest.epoch, expiresAt: latest.expires_at.getTime(), own: latest.owner === this.owner });
    return latest;
  }

  private claim(orderId: string, epoch: number): Promise<OrderClaim | null> {
    return this.claims.findOne({ _id: claimId(orderId, epoch) }).lean<OrderClaim>();
  }

  private remember(orderId: string, claim: KnownClaim): void {
    this.known.delete(orderId); // re-inserted last: the map's order is least recently used first
    this.known.set(orderId, claim);
    if (this.known.size > REMEMBERED_ORDERS) this.known.delete(this.known.keys().next().value!);
  }
}
