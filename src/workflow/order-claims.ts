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
  order_id: string;
  epoch: number;
  owner: string;
  expires_at: Date;
  created_at: Date;
}

const claimSchema = new Schema<OrderClaim>(
  {
    order_id: { type: String, required: true },
    epoch: { type: Number, required: true },
    owner: { type: String, required: true },
    expires_at: { type: Date, required: true },
    created_at: { type: Date, required: true },
  },
  { versionKey: false },
);
claimSchema.index({ order_id: 1, epoch: 1 }, { unique: true });

export function orderClaimModel(connection: Connection): Model<OrderClaim> {
  return (
    (connection.models.OrderClaim as Model<OrderClaim> | undefined) ??
    connection.model<OrderClaim>('OrderClaim', claimSchema, 'order_claims')
  );
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
  ) {
    this.expiresAt = expiresAt.getTime();
  }

  /** Still ours: not expired by our own clock, and no later claim exists. */
  async holds(): Promise<boolean> {
    if (Date.now() >= this.expiresAt) return false;
    const latest = await latestClaim(this.claims, this.orderId);
    return latest?.epoch === this.epoch && latest.owner === this.owner;
  }

  /** Extends the lease when less than half is left; false when it was lost. */
  async renew(): Promise<boolean> {
    if (this.expiresAt - Date.now() > this.leaseMs / 2) return true;
    if (!(await this.holds())) return false;
    const expiresAt = new Date(Date.now() + this.leaseMs);
    await this.claims.updateOne({ order_id: this.orderId, epoch: this.epoch, owner: this.owner }, { $set: { expires_at: expiresAt } });
    this.expiresAt = expiresAt.getTime();
    return true;
  }

  /** Lets the next claimer in at once instead of after expiry. */
  async release(): Promise<void> {
    this.expiresAt = 0;
    await this.claims.updateOne({ order_id: this.orderId, epoch: this.epoch, owner: this.owner }, { $set: { expires_at: new Date(0) } });
  }
}

async function latestClaim(claims: Model<OrderClaim>, orderId: string): Promise<OrderClaim | null> {
  return claims.findOne({ order_id: orderId }).sort({ epoch: -1 }).lean<OrderClaim>();
}

export class OrderClaims {
  private readonly claims: Model<OrderClaim>;
  /** This process: claims name their owner so a lease is never mistaken for another's. */
  readonly owner = `${process.pid}-${randomBytes(4).toString('hex')}`;

  constructor(
    connection: Connection,
    private readonly leaseMs: number,
  ) {
    this.claims = orderClaimModel(connection);
  }

  /** The lease, or undefined while someone else holds the order. */
  async tryClaim(orderId: string): Promise<Lease | undefined> {
    const latest = await latestClaim(this.claims, orderId);
    const now = Date.now();
    if (latest && latest.expires_at.getTime() > now) return undefined;
    const epoch = (latest?.epoch ?? 0) + 1;
    const expiresAt = new Date(now + this.leaseMs);
    try {
      await this.claims.collection.insertOne({ order_id: orderId, epoch, owner: this.owner, expires_at: expiresAt, created_at: new Date(now) });
    } catch (err) {
      if (isDuplicateKeyError(err)) return undefined;
      throw err;
    }
    // Earlier claims are history: only the latest decides.
    if (epoch > 1) await this.claims.deleteMany({ order_id: orderId, epoch: { $lt: epoch } });
    return new Lease(this.claims, orderId, epoch, this.owner, this.leaseMs, expiresAt);
  }

  /** A finished order needs no claims any more. */
  async forget(orderId: string): Promise<void> {
    await this.claims.deleteMany({ order_id: orderId });
  }
}
