import { Router } from 'express';
import type { Connection } from 'mongoose';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { PartnerHandler } from '../partner-api/partner-handler.js';
import type { CardProvider } from '../provider/card-provider.js';
import type { SecureChannel } from '../secure/secure-channel.js';
import { cardholderModel } from './cardholder-model.js';
import { CardholderService } from './cardholder-service.js';
import { CardholderVerifier } from './cardholder-verifier.js';
import { queuedVerificationModel, VerificationQueue } from './verification-queue.js';

/** The partner's cardholder endpoints (docs/orders.md, "Cardholders"). */
export const CARDHOLDER_PATHS = {
  createCardholder: '/api/v1/cardholders/create',
  getCardholder: '/api/v1/cardholders/get',
} as const;

export interface CardholdersFeature {
  handlers: { createCardholder: PartnerHandler; getCardholder: PartnerHandler };
  service: CardholderService;
  verifier: CardholderVerifier;
  /** The endpoints behind the secure channel. Neither takes an Idempotency-Key: external_user_id is the key. */
  routes(channel: SecureChannel): Router;
  /** Starts the sweeper (with WORKER_ENABLED, like the issuance worker). */
  start(): void;
  stop(): Promise<void>;
}

/** Wires partner-created cardholders and their verification; registers its models before the indexes are built. */
export function createCardholders(deps: { config: Config; logger: Logger; connection: Connection; provider: CardProvider }): CardholdersFeature {
  const { config, logger, connection } = deps;
  cardholderModel(connection);
  queuedVerificationModel(connection);
  const queue = new VerificationQueue(connection, config.PROVIDER_RETRY_BASE_MS);
  // The create request asks the provider itself; the sweeper looks only once that had time to end.
  const firstCheckMs = config.PROVIDER_REQUEST_TIMEOUT_MS * config.PROVIDER_HTTP_ATTEMPTS;
  const service = new CardholderService(connection, deps.provider, queue, logger, firstCheckMs);
  const verifier = new CardholderVerifier(connection, service, queue, logger, config.WORKER_POLL_MS);
  const handlers: CardholdersFeature['handlers'] = {
    async createCardholder({ project, body }) {
      const { status, cardholder } = await service.create(project, body);
      return { status, data: cardholder };
    },
    async getCardholder({ project, body }) {
      return { status: 200, data: await service.get(project, body) };
    },
  };
  return {
    handlers,
    service,
    verifier,
    routes(channel) {
      const router = Router();
      for (const name of ['createCardholder', 'getCardholder'] as const) {
        router.post(CARDHOLDER_PATHS[name], channel.protect({ path: CARDHOLDER_PATHS[name], requireIdempotencyKey: false, handler: handlers[name] }));
      }
      return router;
    },
    start() {
      if (config.WORKER_ENABLED) verifier.start();
    },
    stop: () => verifier.stop(),
  };
}
