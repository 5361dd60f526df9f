import { z } from 'zod';
import type { OrderType } from '../orders/order-model.js';

/** The partner's card operations (issue 13): the order type each endpoint creates. */
export const CARD_OP_TYPES = ['card_topup', 'card_withdraw', 'card_freeze', 'card_unfreeze', 'card_terminate'] as const satisfies readonly OrderType[];
export type CardOpType = (typeof CARD_OP_TYPES)[number];

/** The operations that move money between the master balance and the card. */
export type FundsOpType = Extract<CardOpType, 'card_topup' | 'card_withdraw'>;
/** The operations that change the card's status. */
export type ChangeOpType = Exclude<CardOpType, FundsOpType>;

export function isFundsOp(type: CardOpType): type is FundsOpType {
  return type === 'card_topup' || type === 'card_withdraw';
}

const cardId = z.string().min(1).max(64);

/** Body of cards/topup and cards/withdraw: the amount in the card's currency, which must be named. */
export const moveFundsBody = z.strictObject({
  card_id: cardId,
  amount: z.string().regex(/^\d{1,15}(\.\d{1,6})?$/, 'must be a positive decimal string such as "10.50"'),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as "USD"'),
});
export type MoveFundsBody = z.infer<typeof moveFundsBody>;

/** Body of cards/freeze, cards/unfreeze and cards/terminate. */
export const cardChangeBody = z.strictObject({ card_id: cardId });
export type CardChangeBody = z.infer<typeof cardChangeBody>;
