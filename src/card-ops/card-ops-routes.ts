import { Router } from 'express';
import type { SecureChannel } from '../secure/secure-channel.js';
import type { CardOpType } from './card-op-requests.js';
import type { CardOpsHandlers } from './card-ops-feature.js';

/** The partner's card operations, each behind the secure channel and each taking an Idempotency-Key. */
export const CARD_OP_PATHS = {
  card_topup: '/api/v1/cards/topup',
  card_withdraw: '/api/v1/cards/withdraw',
  card_freeze: '/api/v1/cards/freeze',
  card_unfreeze: '/api/v1/cards/unfreeze',
  card_terminate: '/api/v1/cards/terminate',
} as const satisfies Record<CardOpType, string>;

export function cardOpsRoutes(channel: SecureChannel, handlers: CardOpsHandlers): Router {
  const router = Router();
  for (const [type, path] of Object.entries(CARD_OP_PATHS) as [CardOpType, string][]) {
    router.post(path, channel.protect({ path, requireIdempotencyKey: true, handler: handlers[type] }));
  }
  return router;
}
