import { Schema, type Connection, type Model } from 'mongoose';
import { isDuplicateKeyError } from '../store/duplicate-key.js';

/**
 * The cardholders the gateway still has to hear the provider's verdict about: one entry per
 * pending partner-created cardholder, keyed by its id, with when to ask next. The sweeper reads
 * this small collection, not every cardholder (on the embedded store a query by status reads them
 * all). Written before the cardholder, removed once the verdict is recorded, so a pending
 * cardholder always has one whatever the crash; an entry whose cardholder was never stored is
 * dropped once it is older than ORPHAN_GRACE_MS.
 */
export interface QueuedVerification {
  _id: string; // the cardholder's id
  due_at: Date;
  /** Checks so far: the next one waits longer (capped). */
  checks: number;
  created_at: Date;
}

const schema = new Schema<QueuedVerification>(
  {
    _id: { type: String },
    due_at: { type: Date, required: true },
    checks: { type: Number, required: true },
    created_at: { type: Date, required: true },
  },
  { versionKey: false },
);
schema.index({ due_at: 1 });

export function queuedVerificationModel(connection: Connection): Model<QueuedVerification> {
  return (
    (connection.models.QueuedVerification as Model<QueuedVerification> | undefined) ??
    connection.model<QueuedVerification>('QueuedVerification', schema, 'cardholder_verifications')
  );
}

/** Longer than any request takes between writing an entry and storing its cardholder. */
const ORPHAN_GRACE_MS = 5 * 60_000;
/** A held verification is asked about at least this often. */
const MAX_WAIT_MS = 60_000;

export class VerificationQueue {
  private readonly entries: Model<QueuedVerification>;

  constructor(
    connection: Connection,
    /** The first wait between checks; each further check waits twice as long, up to MAX_WAIT_MS. */
    private readonly baseMs: number,
  ) {
    this.entries = queuedVerificationModel(connection);
  }

  /** Before the cardholder is stored; a repeat keeps the first entry. */
  async add(cardholderId: string, dueAt: Date): Promise<void> {
    try {
      await this.entries.collection.insertOne({ _id: cardholderId, due_at: dueAt, checks: 0, created_at: new Date() } satisfies QueuedVerification as never);
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
  }

  async due(limit: number): Promise<QueuedVerification[]> {
    return this.entries.find({ due_at: { $lte: new Date() } }).sort({ due_at: 1 }).limit(limit).lean<QueuedVerification[]>();
  }

  /** The next check, later each time: a verification held for long costs few provider calls. */
  async later(entry: Pick<QueuedVerification, '_id' | 'checks'>): Promise<void> {
    const wait = Math.min(this.baseMs * 2 ** entry.checks, MAX_WAIT_MS);
    await this.entries.updateOne({ _id: entry._id }, { $set: { due_at: new Date(Date.now() + wait), checks: entry.checks + 1 } });
  }

  async remove(cardholderId: string): Promise<void> {
    await this.entries.deleteOne({ _id: cardholderId });
  }

  /** The entry names no cardholder: drop it once no request can still be storing one. */
  async dropIfOrphan(entry: QueuedVerification): Promise<void> {
    const expires = entry.created_at.getTime() + ORPHAN_GRACE_MS;
    if (Date.now() >= expires) await this.entries.deleteOne({ _id: entry._id, created_at: entry.created_at });
    else await this.entries.updateOne({ _id: entry._id }, { $set: { due_at: new Date(expires) } });
  }
}
