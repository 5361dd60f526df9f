import type { Card } from '../cards/card-model.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { Slug } from '../errors/slugs.js';
import { currencyExponent, MoneyFormatError, parseDecimal } from '../money/money.js';
import type { Order } from '../orders/order-model.js';
import type { Product } from '../products/product-model.js';
import type { CardOpType, MoveFundsBody } from './card-op-requests.js';

export interface CardOpInputs {
  type: CardOpType;
  /** The card, when it exists and is the project's. */
  card: Card | null;
  /** The order that issued it. */
  issueOrder: Order | null;
  /** Its product (limits); null when it was removed meanwhile (no limit then). */
  product: Product | null;
  /** Top-up and withdrawal only. */
  funds?: MoveFundsBody;
  /** The card has a termination record (card-state.ts): terminated, whatever its document shows. */
  terminated: boolean;
}

export type CardOpCheck = { ok: true; amount?: number } | { ok: false; slug: Slug; message?: string; amount?: number };

/**
 * The rules of a card operation, first failure wins: the card (card_not_found, card_not_ready),
 * its status (card_terminated; then by operation card_frozen, card_already_frozen or
 * card_not_frozen), and for money the currency (currency_mismatch), the amount (greater than zero
 * -> amount_below_minimum; at most the product's per-transaction limit -> amount_above_maximum)
 * and for a withdrawal the card balance (card_balance_insufficient). Funds of the master balance
 * are checked by the charge itself.
 */
export function checkCardOperation({ type, card, issueOrder, product, funds, terminated }: CardOpInputs): CardOpCheck {
  if (!card || !issueOrder) return { ok: false, slug: 'card_not_found' };
  // A card is usable once its issuing order ended (a failed initial top-up still leaves the card).
  if (issueOrder.status !== 'completed' && issueOrder.status !== 'failed') return { ok: false, slug: 'card_not_ready' };
  if (terminated || card.status === 'terminated') return { ok: false, slug: 'card_terminated' };
  const frozen = card.status === 'frozen';
  switch (type) {
    case 'card_freeze':
      return frozen ? { ok: false, slug: 'card_already_frozen' } : { ok: true };
    case 'card_unfreeze':
      return frozen ? { ok: true } : { ok: false, slug: 'card_not_frozen' };
    case 'card_terminate':
      return { ok: true };
    case 'card_topup':
    case 'card_withdraw':
      break;
  }
  if (frozen) return { ok: false, slug: 'card_frozen' };
  if (!funds) throw new Error('a funds operation without its amount');
  if (funds.currency !== card.currency) return { ok: false, slug: 'currency_mismatch' };
  let amount: number;
  try {
    amount = parseDecimal(funds.amount, currencyExponent(card.currency));
  } catch (err) {
    if (!(err instanceof MoneyFormatError)) throw err;
    throw new GatewayError('validation_error', undefined, { issues: [{ path: 'amount', message: `${err.message} (${card.currency})` }] });
  }
  if (amount <= 0) return { ok: false, slug: 'amount_below_minimum', message: 'The amount must be greater than zero.', amount };
  const max = product?.limits?.per_transaction;
  if (typeof max === 'number' && max >= 0 && amount > max) {
    return { ok: false, slug: 'amount_above_maximum', message: "The amount is above the card product's per-transaction limit.", amount };
  }
  // Unknown balance (a card issued before balances were kept): the provider decides.
  if (type === 'card_withdraw' && card.balance !== undefined && amount > card.balance) return { ok: false, slug: 'card_balance_insufficient', amount };
  return { ok: true, amount };
}
