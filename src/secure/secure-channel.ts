import { Router, type RequestHandler } from 'express';
import type { Connection } from 'mongoose';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import { ProjectCache } from '../projects/project-cache.js';
import { ProjectRepository } from '../projects/project-repository.js';
import { Authenticator } from './authenticator.js';
import { envelope, type PartnerRoute } from './envelope.js';
import { loadGatewayKeys, type GatewayKeys } from './gateway-keys.js';
import { createRateLimiters } from './rate-limit.js';
import { closeRedis, connectRedis } from './redis.js';
import { ReplayCache, replayCacheModel } from './replay-cache.js';
import { WorkLimit } from './work-limit.js';

/** The secure channel, assembled: what app.ts mounts and what partner routes are wrapped in. */
export interface SecureChannel {
  keys: GatewayKeys;
  /** GET /.well-known/jwks.json */
  jwksRouter: Router;
  /** The middleware chain for one partner route. */
  protect(route: PartnerRoute): RequestHandler[];
  replayCache: ReplayCache;
  close(): Promise<void>;
}

/** Registers the channel's models (call before indexes are created). */
export function registerSecureChannelModels(connection: Connection): void {
  replayCacheModel(connection);
}

export interface SecureChannelDeps {
  config: Config;
  logger: Logger;
  connection: Connection;
  /** The channel's clock (tests run instances whose clocks differ). */
  now?: () => number;
}

export async function createSecureChannel(deps: SecureChannelDeps): Promise<SecureChannel> {
  const { config, logger, connection, now = Date.now } = deps;
  const keys = await loadGatewayKeys(config, logger);
  const redis = config.REDIS_URL ? await connectRedis(config.REDIS_URL, logger, 'replay cache') : undefined;
  const replayCache = new ReplayCache(connection, {
    windowMs: config.REQUEST_MAX_AGE_S * 1000,
    skewMarginMs: config.REPLAY_CLOCK_SKEW_MS,
    logger,
    now,
    ...(redis && { redis: { client: redis, prefix: config.REPLAY_REDIS_PREFIX } }),
  });
  const projects = new ProjectCache(new ProjectRepository(connection), connection, config.CACHE_TTL_MS);
  const authenticator = new Authenticator(config, keys, projects, replayCache, now);
  const limiters = await createRateLimiters(config, logger);

  const jwksRouter = Router();
  jwksRouter.get('/.well-known/jwks.json', (_req, res) => {
    // Short cache: partners pick up a rotation within minutes, and refetch at once on unknown_key_id.
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(keys.jwks);
  });

  return {
    keys,
    jwksRouter,
    protect: envelope({ config, logger, keys, authenticator, limiters, now, preAuth: new WorkLimit(config.PREAUTH_MAX_CONCURRENT, config.PREAUTH_MAX_QUEUED) }),
    replayCache,
    close: async () => {
      projects.close();
      await limiters.close();
      if (redis) await closeRedis(redis);
    },
  };
}
