import express, { Router, type Express } from 'express';
import type { Connection } from 'mongoose';
import { createBackOffice } from '../back-office/back-office.js';
import type { Config } from '../config/config.js';
import { errorHandler, notFound } from '../http/error-handler.js';
import { requestContext } from '../http/request-id.js';
import { trustProxySetting } from '../http/trust-proxy.js';
import type { Logger } from '../logging/logger.js';
import type { CardProvider } from '../provider/card-provider.js';
import { webhookAdminOptions } from '../webhooks/webhooks-feature.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import { CONSOLE_PREFIX, consoleRoutes } from '../console/console-routes.js';
import { openApiRoutes } from '../openapi/openapi-routes.js';
import { StaffCardOps } from '../card-ops/card-ops-admin.js';
import type { CardOperations } from '../card-ops/card-operations.js';
import { adminRoutes } from './admin-routes.js';
import { staffAuth } from './staff-auth.js';

export const ADMIN_PREFIX = '/admin/v1';

export type AdminMount =
  /** ADMIN_ENABLED=false: no admin routes anywhere. */
  | { kind: 'off' }
  /** Development without ADMIN_PORT: the admin side, mounted on the main app. */
  | { kind: 'main'; router: Router }
  /** ADMIN_PORT set, and always in production: its own app (own listener), nothing on the partner port. */
  | { kind: 'own-port'; app: Express };

/**
 * Decides where the admin API lives and builds it. Registers the back-office models first.
 * `provider`: the gateway's card provider, which reconciliation compares cards with.
 * `cardOps`: the partners' card operations, which staff freeze, unfreeze and terminate through.
 */
export function createAdmin(config: Config, logger: Logger, connection: Connection, provider?: CardProvider, metrics?: GatewayMetrics, cardOps?: CardOperations): AdminMount {
  const backOffice = createBackOffice(connection, webhookAdminOptions(config), logger);
  if (!config.ADMIN_ENABLED) return { kind: 'off' };
  if (!config.ADMIN_TOKENS || config.ADMIN_TOKENS.size === 0) {
    logger.warn('admin API enabled without ADMIN_TOKENS: every admin request will be refused');
  }
  const adminSide = Router();
  // The one place admin-side routers are mounted (the admin API; a console or /metrics, one line
  // each): whatever is mounted here follows the admin API's listener and never the partners'.
  adminSide.use(ADMIN_PREFIX, adminRoutes(backOffice, {
    tokens: config.ADMIN_TOKENS,
    stuckAfterS: config.STUCK_ORDER_AFTER_S,
    authThrottle: { maxFailures: config.ADMIN_AUTH_MAX_FAILURES, windowMs: config.ADMIN_AUTH_WINDOW_MS },
    logger,
    ...(provider && { provider }),
    ...(cardOps && { cards: new StaffCardOps(connection, backOffice.audit, cardOps) }),
  }));
  if (metrics) adminSide.use('/metrics', staffAuth(config.ADMIN_TOKENS, logger), metrics.router());
  adminSide.use(openApiRoutes(['partner', 'admin']));
  adminSide.use(CONSOLE_PREFIX, consoleRoutes(backOffice, connection, { tokens: config.ADMIN_TOKENS, idleS: config.CONSOLE_SESSION_IDLE_S, maxS: config.CONSOLE_SESSION_MAX_S, stuckAfterS: config.STUCK_ORDER_AFTER_S, logger, ...(provider && { provider }) }));
  if (config.ADMIN_PORT === undefined && config.NODE_ENV !== 'production') return { kind: 'main', router: adminSide };

  const app = express();
  app.disable('x-powered-by');
  // The staff throttle counts per client address, derived as on the partner listener.
  app.set('trust proxy', trustProxySetting(config.TRUST_PROXY));
  app.use(requestContext(logger));
  if (metrics) app.use(metrics.http);
  app.use(adminSide);
  app.use(notFound);
  app.use(errorHandler(logger));
  return { kind: 'own-port', app };
}
