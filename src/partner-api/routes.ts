import { Router } from 'express';
import type { SecureChannel } from '../secure/secure-channel.js';
import type { PartnerOpsHandlers } from '../partner-ops/partner-ops-feature.js';
import type { PartnerHandlers } from './partner-handler.js';

/** The partner endpoints of contract section 3; each one behind the secure channel. */
export const PARTNER_PATHS = {
  createCard: '/api/v1/cards/create',
  checkOrder: '/api/v1/orders/check',
  getCard: '/api/v1/cards/get',
  listCards: '/api/v1/cards/list',
  listOrders: '/api/v1/orders/list',
  balance: '/api/v1/balance',
} as const;

export function partnerRoutes(channel: SecureChannel, handlers: PartnerHandlers): Router {
  const router = Router();
  router.post(PARTNER_PATHS.createCard, channel.protect({ path: PARTNER_PATHS.createCard, requireIdempotencyKey: true, handler: handlers.createCard }));
  router.post(PARTNER_PATHS.checkOrder, channel.protect({ path: PARTNER_PATHS.checkOrder, requireIdempotencyKey: false, handler: handlers.checkOrder }));
  router.post(PARTNER_PATHS.getCard, channel.protect({ path: PARTNER_PATHS.getCard, requireIdempotencyKey: false, handler: handlers.getCard }));
  return router;
}

/** Lists, balance and statement (issue 13): reads, so no Idempotency-Key. */
export function partnerOpsRoutes(channel: SecureChannel, handlers: PartnerOpsHandlers): Router {
  const router = Router();
  for (const name of ['listCards', 'listOrders', 'balance'] as const) {
    router.post(PARTNER_PATHS[name], channel.protect({ path: PARTNER_PATHS[name], requireIdempotencyKey: false, handler: handlers[name] }));
  }
  return router;
}
