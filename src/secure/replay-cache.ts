import { Schema, type Connection, type Model } from 'mongoose';
import type { Logger } from '../logging/logger.js';
import { DuplicateKeyError, insertUnique } from '../store/duplicate-key.js';

/**
 * Every accepted request's `jti`, per project, for as long as its `iat` is inside the accepted
 * window. The unique index (project_id, jti) makes "seen before" exact even between concurrent
 * requests and several gateway instances. FerretDB has no TTL indexes, so old entries are swept
 * by the gateway itself.
 */
export interface ReplayEntry {
  project_id: string;
  jti: string;
  /** After this instant the `iat` check alone refuses the token, so the entry may go. */
  expires_at: Date;
}

const replaySchema = new Schema<ReplayEntry>(
  {
    project_id: { type: String, required: true },
    jti: { type: String, required: true },
    expires_at: { type: Date, required: true },
  },
  { versionKey: false },
);
replaySchema.index({ project_id: 1, jti: 1 }, { unique: true });
replaySchema.index({ expires_at: 1 });

export function replayCacheModel(connection: Connection): Model<ReplayEntry> {
  return (connection.models.ReplayEntry as Model<ReplayEntry> | undefined) ?? connection.model<ReplayEntry>('ReplayEntry', replaySchema, 'replay_cache');
}

export class ReplayCache {
  private readonly model: Model<ReplayEntry>;
  private lastSweep: number;
  private sweeping: Promise<number> | undefined;

  constructor(
    connection: Connection,
    private readonly windowMs: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.model = replayCacheModel(connection);
    // The cache's own clock, so an injected clock governs sweeps as it governs expiry.
    this.lastSweep = now();
  }

  /**
   * Records a jti; false when it was recorded before (a replay). The entry lives until the token's
   * iat leaves the window (kept one window past the later of iat and now: generous to clock skew
   * between gateway instances, never too short).
   */
  async remember(projectId: string, jti: string, iatSeconds: number): Promise<boolean> {
    this.sweepIfDue();
    const expiresAt = new Date(Math.max(iatSeconds * 1000, this.now()) + this.windowMs);
    try {
      await insertUnique('replay_cache', () => this.model.collection.insertOne({ project_id: projectId, jti, expires_at: expiresAt }));
      return true;
    } catch (err) {
      if (err instanceof DuplicateKeyError) return false;
      throw err;
    }
  }

  /** Deletes entries whose tokens the time window refuses anyway. Returns how many went. */
  async sweep(): Promise<number> {
    const { deletedCount } = await this.model.deleteMany({ expires_at: { $lt: new Date(this.now()) } });
    return deletedCount;
  }

  /** At most one sweep per window, in the background of the request that notices it is due. */
  private sweepIfDue(): void {
    if (this.sweeping || this.now() - this.lastSweep < this.windowMs) return;
    this.lastSweep = this.now();
    this.sweeping = this.sweep();
    this.sweeping
      .then((deleted) => this.logger.debug('replay cache swept', { deleted }))
      .catch((err: unknown) => this.logger.warn('replay cache sweep failed', { error: err }))
      .finally(() => {
        this.sweeping = undefined;
      });
  }
}
