import type { RequestHandler } from 'express';
import { rateLimit, type Store } from 'express-rate-limit';
import { RedisStore } from 'rate-limit-redis';
import type { Config } from '../config/config.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { Logger } from '../logging/logger.js';
import { closeRedis, connectRedis } from './redis.js';

/**
 * Two budgets: per client address for requests that fail authentication, checked before
 * decryption so the expensive step cannot be driven by one source; and per authenticated project. In memory by default; in Redis when
 * REDIS_URL is set, so every gateway instance draws on the same budgets.
 */
export interface RateLimiters {
  perAddress: RequestHandler;
  perProject: RequestHandler;
  close(): Promise<void>;
}

const rejected: RequestHandler = (_req, _res, next) => next(new GatewayError('rate_limited'));

export async function createRateLimiters(config: Config, logger: Logger): Promise<RateLimiters> {
  let makeStore: (name: string) => Store | undefined = () => undefined;
  let close = () => Promise.resolve();

  if (config.REDIS_URL) {
    // After a successful start, an outage lets requests through (passOnStoreError) rather than
    // take the gateway down with Redis.
    const client = await connectRedis(config.REDIS_URL, logger, 'rate-limit');
    makeStore = (name) =>
      new RedisStore({ sendCommand: (...args: string[]) => client.sendCommand(args), prefix: `${config.RATE_LIMIT_REDIS_PREFIX}${name}:` });
    close = () => closeRedis(client);
  }

  const rateLimitLogger = {
    error: (...args: unknown[]) => logger.warn('rate limiter', { detail: args.map((a) => (a instanceof Error ? a.message : String(a))) }),
    warn: (...args: unknown[]) => logger.warn('rate limiter', { detail: args.map((a) => (a instanceof Error ? a.message : String(a))) }),
  };
  const common = {
    windowMs: config.RATE_LIMIT_WINDOW_MS,
    standardHeaders: 'draft-7' as const,
    legacyHeaders: false,
    passOnStoreError: true,
    handler: rejected,
    logger: rateLimitLogger,
  };

  return {
    // Only requests whose sender is not established count: an authenticated partner spends its
    // project's budget, never that of the address it shares (behind a terminator) with junk.
    perAddress: rateLimit({
      ...common,
      limit: config.RATE_LIMIT_PER_ADDRESS,
      store: makeStore('addr'),
      skipSuccessfulRequests: true,
      requestWasSuccessful: (_req, res) => res.locals.projectId !== undefined,
    }),
    perProject: rateLimit({
      ...common,
      limit: config.RATE_LIMIT_PER_PROJECT,
      store: makeStore('project'),
      keyGenerator: (_req, res) => {
        const projectId = res.locals.projectId;
        if (!projectId) throw new Error('per-project rate limit used before authentication');
        return projectId;
      },
    }),
    close: () => close(),
  };
}
