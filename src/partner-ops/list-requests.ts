import { z } from 'zod';
import { CARD_STATUSES } from '../cards/card-model.js';
import { LEDGER_KINDS } from '../ledger/ledger-entry-model.js';
import { ORDER_TYPES } from '../orders/order-model.js';

/**
 * The bodies of cards/list, orders/list and balance. Strict: an unknown field is a
 * validation_error, so a misspelt filter never silently widens a list.
 */
const isoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
const page = {
  limit: z.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).max(200).optional(),
};
const timeRange = {
  /** created_at >= from */
  from: isoDate.optional(),
  /** created_at < to */
  to: isoDate.optional(),
};
const rangeInOrder = (b: { from?: Date | undefined; to?: Date | undefined }) => !(b.from && b.to && b.from >= b.to);
const rangeIssue = { message: 'must be after from', path: ['to'] };

export const listCardsBody = z
  .strictObject({ external_user_id: z.string().min(1).max(128).optional(), status: z.enum(CARD_STATUSES).optional(), ...timeRange, ...page })
  .refine(rangeInOrder, rangeIssue);

export const listOrdersBody = z
  .strictObject({
    external_user_id: z.string().min(1).max(128).optional(),
    status: z.enum(['new', 'activating', 'processing', 'completed', 'failed']).optional(),
    order_type: z.enum(ORDER_TYPES).optional(),
    ...timeRange,
    ...page,
  })
  .refine(rangeInOrder, rangeIssue);

export const balanceBody = z.strictObject({ kind: z.enum(LEDGER_KINDS).optional(), ...timeRange, ...page }).refine(rangeInOrder, rangeIssue);
