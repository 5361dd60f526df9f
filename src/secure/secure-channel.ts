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
import { ReplayCache, replayCacheModel } from './replay-cache.js';

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

export async function createSecureChannel(deps: { config: Config; logger: Logger; connection: Connection }): Promise<SecureChannel> {
  const { config, logger, connection } = deps;
  const keys = await loadGatewayKeys(config, logger);
  const replayCache = new ReplayCache(connection, config.REQUEST_MAX_AGE_S * 1000, logger);
  const projects = new ProjectCache(new ProjectRepository(connection), connection, config.CACHE_TTL_MS);
  const authenticator = new Authenticator(config, keys, projects, replayCache);
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
    protect: envelope({ config, logger, keys, authenticator, limiters }),
    replayCache,
    close: () => {
      projects.close();
      return limiters.close();
    },
  };
}
