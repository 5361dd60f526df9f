import { Router } from 'express';
import type { SecureChannel } from '../secure/secure-channel.js';
import type { PartnerHandlers } from './partner-handler.js';

/** The partner endpoints of contract section 3; each one behind the secure channel. */
export const PARTNER_PATHS = {
  createCard: '/api/v1/cards/create',
  checkOrder: '/api/v1/orders/check',
  getCard: '/api/v1/cards/get',
} as const;

export function partnerRoutes(channel: SecureChannel, handlers: PartnerHandlers): Router {
  const router = Router();
  router.post(PARTNER_PATHS.createCard, channel.protect({ path: PARTNER_PATHS.createCard, requireIdempotencyKey: true, handler: handlers.createCard }));
  router.post(PARTNER_PATHS.checkOrder, channel.protect({ path: PARTNER_PATHS.checkOrder, requireIdempotencyKey: false, handler: handlers.checkOrder }));
  router.post(PARTNER_PATHS.getCard, channel.protect({ path: PARTNER_PATHS.getCard, requireIdempotencyKey: false, handler: handlers.getCard }));
  return router;
}
