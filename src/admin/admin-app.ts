import express, { type Express, type Router } from 'express';
import type { Connection } from 'mongoose';
import { createBackOffice } from '../back-office/back-office.js';
import type { Config } from '../config/config.js';
import { errorHandler, notFound } from '../http/error-handler.js';
import { requestContext } from '../http/request-id.js';
import type { Logger } from '../logging/logger.js';
import type { CardProvider } from '../provider/card-provider.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import { CONSOLE_PREFIX, consoleRoutes } from '../console/console-routes.js';
import { openApiRoutes } from '../openapi/openapi-routes.js';
import { adminRoutes } from './admin-routes.js';
import { staffAuth } from './staff-auth.js';

export const ADMIN_PREFIX = '/admin/v1';

export type AdminMount =
  /** ADMIN_ENABLED=false: no admin routes anywhere. */
  | { kind: 'off' }
  /** Mounted on the main app: the admin API at /admin/v1, and the staff pages beside it. */
  | { kind: 'main'; router: Router }
  /** ADMIN_PORT set: its own app (own port), and nothing on the main port. */
  | { kind: 'own-port'; app: Express };

/**
 * Decides where the admin API lives and builds it. Registers the back-office models first.
 * `provider`: the gateway's card provider, which reconciliation compares cards with.
 */
export function createAdmin(config: Config, logger: Logger, connection: Connection, provider?: CardProvider, metrics?: GatewayMetrics): AdminMount {
  const backOffice = createBackOffice(connection);
  if (!config.ADMIN_ENABLED) return { kind: 'off' };
  if (!config.ADMIN_TOKENS || config.ADMIN_TOKENS.size === 0) {
    logger.warn('admin API enabled without ADMIN_TOKENS: every admin request will be refused');
  }
  const api = adminRoutes(backOffice, { tokens: config.ADMIN_TOKENS, stuckAfterS: config.STUCK_ORDER_AFTER_S, ...(provider && { provider }) });
  // Everything staff reach, one line each: wherever the admin API is mounted, these are too.
  const router = express.Router();
  router.use(ADMIN_PREFIX, api);
  if (metrics) router.use('/metrics', staffAuth(config.ADMIN_TOKENS), metrics.router());
  router.use(openApiRoutes(['partner', 'admin']));
  router.use(CONSOLE_PREFIX, consoleRoutes(backOffice, connection, { tokens: config.ADMIN_TOKENS, idleS: config.CONSOLE_SESSION_IDLE_S, maxS: config.CONSOLE_SESSION_MAX_S, stuckAfterS: config.STUCK_ORDER_AFTER_S, logger, ...(provider && { provider }) }));
  if (config.ADMIN_PORT === undefined) return { kind: 'main', router };

  const app = express();
  app.disable('x-powered-by');
  app.use(requestContext(logger));
  if (metrics) app.use(metrics.http);
  app.use(router);
  app.use(notFound);
  app.use(errorHandler(logger));
  return { kind: 'own-port', app };
}
