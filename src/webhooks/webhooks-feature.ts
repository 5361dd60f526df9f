import type { Connection } from 'mongoose';
import type { Config } from '../config/config.js';
import type { SigningKey } from '../jose/index.js';
import type { Logger } from '../logging/logger.js';
import { OutboundSealer } from '../secure/outbound-seal.js';
import { CardEventRecorder } from './card-events.js';
import { CardholderEventOutbox } from './cardholder-events.js';
import { WebhookDispatcher } from './dispatcher.js';
import { OrderEventOutbox } from './order-events.js';
import type { WebhookAdminOptions } from './webhook-admin.js';
import { webhookModels } from './webhook-models.js';

export function webhookAdminOptions(config: Config): WebhookAdminOptions {
  return { policy: { allowPrivate: config.WEBHOOK_ALLOW_PRIVATE_URLS }, retryForS: config.WEBHOOK_RETRY_FOR_S };
}

export interface WebhooksFeature {
  outbox: OrderEventOutbox;
  cardholderEvents: CardholderEventOutbox;
  /** Also used by the provider's webhooks, which record a card change the provider reported. */
  cardEvents: CardEventRecorder;
  dispatcher: WebhookDispatcher;
  start(): void;
  stop(): Promise<void>;
}

/**
 * Webhooks to partners: the outboxes that derive order and card events from the orders and
 * cardholder events from the cardholders, and the dispatcher that seals them as outbound messages
 * (src/secure/outbound-seal.ts) and delivers them. All run in every gateway process
 * (WEBHOOKS_ENABLED); the unique event ids make that safe.
 */
export function createWebhooks(deps: { config: Config; logger: Logger; connection: Connection; signingKey: SigningKey }): WebhooksFeature {
  const { config, logger, connection } = deps;
  webhookModels(connection);
  const cardEvents = new CardEventRecorder(connection, { retryForS: config.WEBHOOK_RETRY_FOR_S }, logger);
  const outbox = new OrderEventOutbox(connection, { retryForS: config.WEBHOOK_RETRY_FOR_S }, logger, cardEvents);
  const cardholderEvents = new CardholderEventOutbox(connection, { retryForS: config.WEBHOOK_RETRY_FOR_S }, logger);
  const dispatcher = new WebhookDispatcher(
    connection,
    new OutboundSealer(deps.signingKey, config.GATEWAY_AUDIENCE),
    {
      pollMs: config.WEBHOOK_POLL_MS,
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      retryBaseMs: config.WEBHOOK_RETRY_BASE_MS,
      retryMaxMs: config.WEBHOOK_RETRY_MAX_MS,
      concurrency: config.WEBHOOK_CONCURRENCY,
      policy: { allowPrivate: config.WEBHOOK_ALLOW_PRIVATE_URLS },
    },
    logger,
    () => Promise.all([outbox.scan(), cardholderEvents.scan()]),
  );
  return {
    outbox,
    cardholderEvents,
    cardEvents,
    dispatcher,
    start: () => {
      if (config.WEBHOOKS_ENABLED) dispatcher.start();
    },
    stop: () => dispatcher.stop(),
  };
}
