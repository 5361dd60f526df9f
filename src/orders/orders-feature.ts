import type { Connection } from 'mongoose';
import { cardholderModel } from '../cardholders/cardholder-model.js';
import { CardCipher } from '../cards/card-cipher.js';
import { loadCardDataKeys } from '../cards/card-data-keys.js';
import { CardService } from '../cards/card-service.js';
import type { Config } from '../config/config.js';
import { LedgerService } from '../ledger/ledger-service.js';
import type { Logger } from '../logging/logger.js';
import type { PartnerHandlers } from '../partner-api/partner-handler.js';
import { productModel } from '../products/product-model.js';
import { projectModel } from '../projects/project-model.js';
import type { CardProvider } from '../provider/card-provider.js';
import { connectProvider, type ProviderLink } from '../provider/http/provider-link.js';
import { SandboxSimulator } from '../provider/sandbox-simulator.js';
import { IssuanceWorker } from '../workflow/issuance-worker.js';
import { OrderQueue } from '../workflow/order-queue.js';
import { IssuanceWorkflow, type WorkflowOptions } from '../workflow/issuance-workflow.js';
import { OrderClaims } from '../workflow/order-claims.js';
import { OrderTransitions } from '../workflow/order-transitions.js';
import { PausePoints } from '../workflow/pause-point.js';
import { WorkflowRegistry } from '../workflow/workflow-registry.js';
import { CardOrders } from './card-orders.js';
import { OrderCharger } from './order-charge.js';
import { createOrderHandlers } from './order-handlers.js';
import { OrderRefunds } from './order-refunds.js';

export interface OrdersFeatureDeps {
  config: Config;
  logger: Logger;
  connection: Connection;
  /** A provider other than the configured HTTP one (tests inject scripted ones). */
  provider?: CardProvider;
  /** Wraps the provider (metrics); the workflow and reconciliation see the wrapped one. */
  decorateProvider?: (provider: CardProvider) => CardProvider;
}

export interface OrderEngine {
  workflows: WorkflowRegistry;
  charger: OrderCharger;
  claims: OrderClaims;
  queue: OrderQueue;
  fence: OrderTransitions;
  pauses: PausePoints;
  cipher: CardCipher;
  options: WorkflowOptions;
}

export interface OrdersFeature {
  handlers: PartnerHandlers;
  orders: CardOrders;
  cards: CardService;
  ledger: LedgerService;
  worker: IssuanceWorker;
  provider: CardProvider;
  /** What another order workflow needs to run in the same worker (src/card-ops/ registers one). */
  engine: OrderEngine;
  /** The HTTP link to the configured provider; absent when a provider was injected. */
  link?: ProviderLink;
  /** Present when SANDBOX_SIMULATOR_ENABLED and the provider is the configured HTTP one. */
  simulator?: SandboxSimulator;
  start(): void;
  stop(): Promise<void>;
}

/**
 * Wires card issuance: the create/check/get use cases, the ledger, the card provider, and the
 * worker that drives orders. Registers every model it uses, so their indexes are built at start.
 */
export async function createOrdersFeature({ config, logger, connection, provider, decorateProvider }: OrdersFeatureDeps): Promise<OrdersFeature> {
  projectModel(connection);
  productModel(connection);
  cardholderModel(connection);

  const cipher = new CardCipher(await loadCardDataKeys(config));
  const ledger = new LedgerService(connection);
  const claims = new OrderClaims(connection, config.WORKER_LEASE_MS);
  const queue = new OrderQueue(connection);
  // A request waits for another holder of its order at most one lease (plus a margin).
  const fence = new OrderTransitions(connection, logger);
  const pauses = new PausePoints(config.WORKFLOW_PAUSE_AT, config.NODE_ENV, logger);
  const charger = new OrderCharger(connection, ledger, claims, queue, config.WORKER_LEASE_MS + 5_000, fence, pauses);
  const cards = new CardService(connection, cipher);
  const link = provider ? undefined : connectProvider(config);
  const cardProvider = provider ?? link!.provider;
  const decorated = decorateProvider ? decorateProvider(cardProvider) : cardProvider;

  const options: WorkflowOptions = {
    maxAttempts: config.PROVIDER_MAX_ATTEMPTS,
    retryBaseMs: config.PROVIDER_RETRY_BASE_MS,
    timeoutMs: config.PROVIDER_TIMEOUT_MS,
    pollMs: Math.max(config.WORKER_POLL_MS, config.PROVIDER_RETRY_BASE_MS),
  };
  const workflows = new WorkflowRegistry();
  workflows.register(['card_issue'], new IssuanceWorkflow(connection, { provider: decorated, ledger, charger, cards, logger, fence, pauses, options }));
  const worker = new IssuanceWorker(connection, workflows, claims, queue, logger, {
    pollMs: config.WORKER_POLL_MS,
    concurrency: config.WORKER_CONCURRENCY,
  });
  const orders = new CardOrders(connection, charger, queue, (order, lease) => worker.handOff(order, lease), config.CACHE_TTL_MS, pauses);

  return {
    handlers: createOrderHandlers({ orders, cards, refunds: new OrderRefunds(connection) }),
    orders,
    cards,
    ledger,
    worker,
    provider: decorated,
    engine: { workflows, charger, claims, queue, fence, pauses, cipher, options },
    ...(link && { link }),
    ...(link && config.SANDBOX_SIMULATOR_ENABLED ? { simulator: new SandboxSimulator(connection, link.client) } : {}),
    start: () => {
      if (config.WORKER_ENABLED) worker.start();
    },
    stop: async () => {
      await worker.stop().finally(() => orders.close());
      link?.client.close();
    },
  };
}
