import { Schema, type Connection, type Model } from 'mongoose';
import { GatewayError } from '../errors/gateway-error.js';
import type { Logger } from '../logging/logger.js';
import { DuplicateKeyError, insertUnique } from '../store/duplicate-key.js';
import type { RedisClient } from './redis.js';

/**
 * Every accepted request's `jti`, per project, for as long as some gateway instance could still
 * accept its `iat`. "Seen before" is decided by one atomic primitive, exact between concurrent
 * requests and several instances: a unique index (project_id, jti) in the store, or, when
 * REDIS_URL is set, `SET key NX PX ttl` in Redis (which also expires entries by itself).
 */
export interface ReplayEntry {
  project_id: string;
  jti: string;
  /** After this instant no instance's `iat` check accepts the token, so the entry may go. */
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

export interface ReplayCacheOptions {
  /** REQUEST_MAX_AGE_S in ms: how far from an instance's clock an `iat` is accepted. */
  windowMs: number;
  /** REPLAY_CLOCK_SKEW_MS: how far two instances' clocks may differ. */
  skewMarginMs: number;
  logger: Logger;
  /** Redis instead of the store (REDIS_URL); keys are `${prefix}${project}:${jti}`. */
  redis?: { client: RedisClient; prefix: string };
  now?: () => number;
}

export class ReplayCache {
  private readonly model: Model<ReplayEntry>;
  private readonly now: () => number;
  private lastSweep: number;
  private sweeping: Promise<number> | undefined;
  /** A request found a sweep due while one was still running: run it when that one ends. */
  private sweepWanted = false;

  constructor(
    connection: Connection,
    private readonly options: ReplayCacheOptions,
  ) {
    this.model = replayCacheModel(connection);
    this.now = options.now ?? Date.now;
    // The cache's own clock, so an injected clock governs sweeps as it governs expiry.
    this.lastSweep = this.now();
  }

  /**
   * Records a jti; false when it was recorded before (a replay). The entry is kept one window past
   * the later of iat and this instance's now, plus the skew margin: an instance whose clock is
   * behind ours by up to the margin still accepts the iat until then, and an instance ahead of us
   * (sweeping by its clock) must not delete the entry before that.
   */
  async remember(projectId: string, jti: string, iatSeconds: number): Promise<boolean> {
    const now = this.now();
    const expiresAt = Math.max(iatSeconds * 1000, now) + this.options.windowMs + this.options.skewMarginMs;
    if (this.options.redis) return this.rememberInRedis(this.options.redis, projectId, jti, expiresAt - now);
    this.sweepIfDue();
    try {
      await insertUnique('replay_cache', () => this.model.collection.insertOne({ project_id: projectId, jti, expires_at: new Date(expiresAt) }));
      return true;
    } catch (err) {
      if (err instanceof DuplicateKeyError) return false;
      throw err;
    }
  }

  /** Deletes store entries whose tokens no instance accepts anyway. Returns how many went. */
  async sweep(): Promise<number> {
    const { deletedCount } = await this.model.deleteMany({ expires_at: { $lt: new Date(this.now()) } });
    return deletedCount;
  }

  private async rememberInRedis(redis: NonNullable<ReplayCacheOptions['redis']>, projectId: string, jti: string, ttlMs: number): Promise<boolean> {
    // Length-prefixed project id: no (project, jti) pair can spell another's key.
    const key = `${redis.prefix}${projectId.length}:${projectId}:${jti}`;
    let answer: string | null;
    try {
      answer = await redis.client.set(key, '1', { condition: 'NX', expiration: { type: 'PX', value: Math.ceil(ttlMs) } });
    } catch (err) {
      // Fail closed: without the cache a replay cannot be told from a first request.
      this.options.logger.warn('replay cache unavailable', { error: err instanceof Error ? err.message : 'unknown' });
      throw new GatewayError('service_unavailable');
    }
    return answer === 'OK';
  }

  /** At most one sweep per window, in the background of the request that notices it is due. */
  private sweepIfDue(): void {
    if (this.now() - this.lastSweep < this.options.windowMs) return;
    if (this.sweeping) {
      this.sweepWanted = true;
      return;
    }
    this.lastSweep = this.now();
    this.sweeping = this.sweep();
    this.sweeping
      .then((deleted) => this.options.logger.debug('replay cache swept', { deleted }))
      .catch((err: unknown) => this.options.logger.warn('replay cache sweep failed', { error: err }))
      .finally(() => {
        this.sweeping = undefined;
        if (this.sweepWanted) {
          this.sweepWanted = false;
          this.sweepIfDue();
        }
      });
  }
}
