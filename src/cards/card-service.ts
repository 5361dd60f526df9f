import type { Connection, Model } from 'mongoose';
import { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.js';
import { cardIdFor } from '../ids/ids.js';
import { orderModel, type Order } from '../orders/order-model.js';
import { validationError } from '../orders/create-card-request.js';
import type { CardSecrets } from '../provider/card-provider.js';
import { DuplicateKeyError, insertUnique } from '../store/duplicate-key.js';
import type { CardCipher } from './card-cipher.js';
import { cardModel, type Card } from './card-model.js';

export const getCardBody = z
  .strictObject({ card_id: z.string().min(1).max(64).optional(), order_id: z.string().min(1).max(64).optional() })
  .refine((b) => (b.card_id === undefined) !== (b.order_id === undefined), {
    message: 'give exactly one of card_id or order_id',
    path: ['card_id'],
  });

/** cards/get's answer: the only place card secrets leave the gateway (inside the encrypted response). */
export interface CardDataView {
  card_id: string;
  status: string;
  masked_pan: string;
  pan: string;
  cvv: string;
  expiry_month: number;
  expiry_year: number;
  currency: string;
  product_code: string;
  external_user_id: string;
  label: string | null;
  created_at: string;
}

export interface IssuedCard {
  order: Order;
  providerCardId: string;
  maskedPan: string;
  secrets: CardSecrets;
}

/** Issued cards: stored once per order with their secrets sealed, read back for their owner only. */
export class CardService {
  private readonly cards: Model<Card>;
  private readonly orders: Model<Order>;

  constructor(
    connection: Connection,
    private readonly cipher: CardCipher,
  ) {
    this.cards = cardModel(connection);
    this.orders = orderModel(connection);
  }

  /** Stores the order's card, or returns the one a previous attempt stored (unique per order). */
  async storeIssued({ order, providerCardId, maskedPan, secrets }: IssuedCard): Promise<Card> {
    // The card's id is derived from its order: a retry's insert fails on it, and then finds the
    // earlier attempt's card by _id.
    const id = cardIdFor(order._id);
    const now = new Date();
    const card: Card = {
      _id: id,
      project_id: order.project_id,
      order_id: order._id,
      provider_card_id: providerCardId,
      status: 'active',
      masked_pan: maskedPanOf(maskedPan),
      secrets: this.cipher.seal(id, {
        pan: secrets.pan,
        cvv: secrets.cvv,
        expiry_month: secrets.expiryMonth,
        expiry_year: secrets.expiryYear,
      }),
      currency: order.data.currency!,
      product_code: order.data.product_code!,
      external_user_id: order.data.external_user_id!,
      // The initial top-up, if any, is added when it is verified (issuance workflow).
      balance: 0,
      created_at: now,
      updated_at: now,
    };
    if (order.data.label !== undefined) card.label = order.data.label;
    try {
      await insertUnique('cards', () => this.cards.create(card));
      return card;
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
      // Unique per order: the winner is the order's card, under this id or (stored before ids were
      // derived) another one.
      const winner =
        (await this.cards.findOne({ _id: id, project_id: order.project_id }).lean<Card>()) ??
        (await this.cards.findOne({ project_id: order.project_id, order_id: order._id }).lean<Card>());
      if (!winner) throw err;
      return winner;
    }
  }

  /**
   * cards/get. A card is ready once its order completed, or when the order failed after the card
   * was made (the top-up failed: the fee bought a card with no balance). Unknown and foreign
   * cards are the same card_not_found.
   */
  async get(projectId: string, body: unknown): Promise<CardDataView> {
    const parsed = getCardBody.safeParse(body);
    if (!parsed.success) throw validationError(parsed.error);
    const { card_id: cardId, order_id: orderId } = parsed.data;

    // Every lookup is by _id. By order: the order names its card once the card is stored (before
    // that the answer is card_not_ready or card_not_found, whatever the cards collection holds).
    let card: Card | null;
    let order: Order | null;
    if (cardId) {
      card = await this.cards.findOne({ _id: cardId, project_id: projectId }).lean<Card>();
      order = card ? await this.orders.findOne({ _id: card.order_id, project_id: projectId }).lean<Order>() : null;
    } else {
      order = await this.orders.findOne({ _id: orderId, project_id: projectId }).lean<Order>();
      card = order?.card_id ? await this.cards.findOne({ _id: order.card_id, project_id: projectId }).lean<Card>() : null;
    }
    if (!order || order.order_type !== 'card_issue') throw new GatewayError('card_not_found');
    if (!card) {
      if (order.status === 'failed') throw new GatewayError('card_not_found', 'The order failed before a card was made.');
      throw new GatewayError('card_not_ready');
    }
    if (order.status !== 'completed' && order.status !== 'failed') throw new GatewayError('card_not_ready');

    const secrets = this.cipher.open(card._id, card.secrets);
    return {
      card_id: card._id,
      status: card.status,
      masked_pan: card.masked_pan,
      pan: secrets.pan,
      cvv: secrets.cvv,
      expiry_month: secrets.expiry_month,
      expiry_year: secrets.expiry_year,
      currency: card.currency,
      product_code: card.product_code,
      external_user_id: card.external_user_id,
      label: card.label ?? null,
      created_at: card.created_at.toISOString(),
    };
  }
}

/** Providers mask differently; keep only a shape that cannot carry more than first six and last four. */
function maskedPanOf(masked: string): string {
  return /^\d{6}\*+\d{4}$/.test(masked) ? masked : `${'*'.repeat(12)}${masked.replace(/\D/g, '').slice(-4)}`;
}
