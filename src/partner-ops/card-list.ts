import type { Connection, Model } from 'mongoose';
import { afterCursor, encodeCursor } from '../back-office/order-lookup.js';
import { cardModel, type Card } from '../cards/card-model.js';
import type { z } from 'zod';
import type { listCardsBody } from './list-requests.js';
import { currencyExponent, formatMinor } from '../money/money.js';

/** A card in a list: what identifies and describes it, never its number, CVV or expiry. */
export interface CardListItem {
  card_id: string;
  order_id: string;
  status: string;
  masked_pan: string;
  currency: string;
  product_code: string;
  external_user_id: string;
  label: string | null;
  /** Decimal string; null until the provider's balance is known. */
  balance: string | null;
  created_at: string;
  updated_at: string;
}

export interface CardPage {
  cards: CardListItem[];
  next_cursor: string | null;
}

/**
 * cards/list: a project's cards, newest first, keyset-paged on (created_at, _id) like the staff
 * order lookup, on the indexes (project_id[, external_user_id | status], created_at -1, _id -1).
 */
export class CardList {
  private readonly cards: Model<Card>;

  constructor(connection: Connection) {
    this.cards = cardModel(connection);
  }

  async find(projectId: string, filter: z.infer<typeof listCardsBody>): Promise<CardPage> {
    const query: Record<string, unknown> = { project_id: projectId };
    if (filter.external_user_id) query.external_user_id = filter.external_user_id;
    if (filter.status) query.status = filter.status;
    if (filter.from || filter.to) query.created_at = { ...(filter.from && { $gte: filter.from }), ...(filter.to && { $lt: filter.to }) };
    if (filter.cursor) query.$and = afterCursor(filter.cursor);
    const rows = await this.cards
      .find(query, { secrets: 0 })
      .sort({ created_at: -1, _id: -1 })
      .limit(filter.limit + 1)
      .lean<Card[]>();
    const more = rows.length > filter.limit;
    const pageRows = more ? rows.slice(0, filter.limit) : rows;
    return { cards: pageRows.map(toCardListItem), next_cursor: more ? encodeCursor(pageRows.at(-1)!) : null };
  }
}

/** A card as partners see it (cards/list, card webhook events). */
export function toCardListItem(card: Omit<Card, 'secrets'>): CardListItem {
  return {
    card_id: card._id,
    order_id: card.order_id,
    status: card.status,
    masked_pan: card.masked_pan,
    currency: card.currency,
    product_code: card.product_code,
    external_user_id: card.external_user_id,
    label: card.label ?? null,
    balance: card.balance === undefined ? null : formatMinor(card.balance, currencyExponent(card.currency)),
    created_at: card.created_at.toISOString(),
    updated_at: card.updated_at.toISOString(),
  };
}
