import express, { type Express } from 'express';
import type { Connection } from 'mongoose';
import type { Config } from './config/config.js';
import type { Logger } from './logging/logger.js';
import { errorHandler, notFound } from './http/error-handler.js';
import { healthRoutes, type Readiness } from './http/health-routes.js';
import { requestContext } from './http/request-id.js';
import { trustProxySetting } from './http/trust-proxy.js';
import { createAdmin } from './admin/admin-app.js';
import { cardOpsRoutes } from './card-ops/card-ops-routes.js';
import { createCardOps } from './card-ops/card-ops-feature.js';
import { createOrdersFeature, type OrdersFeature } from './orders/orders-feature.js';
import type { PartnerHandlers } from './partner-api/partner-handler.js';
import { partnerOpsRoutes, partnerRoutes } from './partner-api/routes.js';
import { createPartnerOps } from './partner-ops/partner-ops-feature.js';
import { projectModel } from './projects/project-model.js';
import type { CardProvider } from './provider/card-provider.js';
import { sandboxRoutes } from './provider/sandbox-routes.js';
import { providerWebhookRoutes } from './provider/webhooks/webhook-routes.js';
import { createSecureChannel, registerSecureChannelModels } from './secure/secure-channel.js';
import { webhookModels } from './webhooks/webhook-models.js';
import { createWebhooks, type WebhooksFeature } from './webhooks/webhooks-feature.js';
import { GatewayMetrics } from './metrics/metrics.js';
import { openApiRoutes } from './openapi/openapi-routes.js';
import { createCardholders } from './cardholders/cardholders-feature.js';

/**
 * The composition root: every feature is wired to its stores and mounted here, and nowhere else.
 */

export interface GatewayDeps {
  config: Config;
  logger: Logger;
  connection: Connection;
  /** The business logic behind the partner routes; tests inject their own. */
  partnerHandlers?: PartnerHandlers;
  /** Replaces the built-in sandbox card provider (tests inject scripted ones). */
  cardProvider?: CardProvider;
  /** The secure channel's clock (tests run instances whose clocks differ). */
  now?: () => number;
}

export interface Gateway {
  app: Express;
  readiness: Readiness;
  /** The admin API when it has its own port (ADMIN_PORT); the caller listens on it. */
  adminApp?: Express;
  /** Card issuance: partner handlers, worker, sandbox simulator (for tests and scripts too). */
  orders: OrdersFeature;
  webhooks: WebhooksFeature;
  /** Starts background work (the issuance worker). */
  start(): Promise<void>;
  /** Stops background work and waits for it; the HTTP server is the caller's. */
  stop(): Promise<void>;
}

export async function createGateway(deps: GatewayDeps): Promise<Gateway> {
  const { config, logger, connection } = deps;
  const readiness: Readiness = { accepting: true };
  projectModel(connection);
  registerSecureChannelModels(connection);
  webhookModels(connection);
  const metrics = new GatewayMetrics(connection, { stuckAfterS: config.STUCK_ORDER_AFTER_S });
  const orders = await createOrdersFeature({ config, logger, connection, provider: deps.cardProvider, decorateProvider: (p) => metrics.decorate(p) });
  const cardOps = createCardOps(connection, logger, orders);
  const admin = createAdmin(config, logger, connection, orders.provider, metrics, cardOps.operations);
  const cardholders = createCardholders({ config, logger, connection, provider: orders.provider });

  // Unique indexes carry the exactly-once guarantees: they exist before the first request.
  await Promise.all(Object.values(connection.models).map((model) => model.createIndexes()));

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', trustProxySetting(config.TRUST_PROXY));
  app.use(requestContext(logger));
  app.use(metrics.http);
  app.use(healthRoutes(connection, readiness));
  if (admin.kind === 'main') app.use(admin.router);
  app.use(openApiRoutes(['partner']));
  const secureChannel = await createSecureChannel({ config, logger, connection, ...(deps.now && { now: deps.now }) });
  const webhooks = createWebhooks({ config, logger, connection, signingKey: secureChannel.keys.signingKey });
  app.use(secureChannel.jwksRouter);
  if (orders.link) app.use(providerWebhookRoutes({ connection, logger, keys: orders.link.webhookKeys, maxAgeS: config.PROVIDER_SIGNATURE_MAX_AGE_S, cardEvents: webhooks.cardEvents }));
  app.use(partnerRoutes(secureChannel, deps.partnerHandlers ?? orders.handlers));
  app.use(partnerOpsRoutes(secureChannel, (await createPartnerOps({ connection, ledger: orders.ledger, config })).handlers));
  app.use(cardholders.routes(secureChannel));
  app.use(cardOpsRoutes(secureChannel, cardOps.handlers));
  if (orders.simulator) app.use(sandboxRoutes(secureChannel, orders.simulator));
  app.use(notFound);
  app.use(errorHandler(logger));

  return {
    app,
    readiness,
    ...(admin.kind === 'own-port' && { adminApp: admin.app }),
    orders,
    webhooks,
    start: () => {
      orders.start();
      webhooks.start();
      cardholders.start();
      return Promise.resolve();
    },
    stop: async () => {
      await webhooks.stop();
      await cardholders.stop();
      await orders.stop();
      await secureChannel.close();
    },
  };
}
