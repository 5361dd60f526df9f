import { Schema, type Connection, type Model } from 'mongoose';

/**
 * An issued card. PAN, CVV and expiry exist here only as AES-256-GCM ciphertext, with the id of
 * the data key beside it so keys can rotate (contract section 6).
 */
export interface EncryptedCardSecrets {
  key_id: string;
  /** base64: 12-byte nonce, ciphertext, 16-byte tag. */
  iv: string;
  ciphertext: string;
  tag: string;
}

/** `frozen` is the provider's `inactive`; `terminated` is final (src/card-ops/card-state.ts keeps it so). */
export const CARD_STATUSES = ['active', 'frozen', 'terminated'] as const;
export type CardStatus = (typeof CARD_STATUSES)[number];

export interface Card {
  _id: string;
  project_id: string;
  order_id: string;
  provider_card_id: string;
  status: CardStatus;
  masked_pan: string;
  secrets: EncryptedCardSecrets;
  currency: string;
  product_code: string;
  external_user_id: string;
  label?: string;
  /** Minor units, as the provider last reported it after a top-up or withdrawal (absent: not known yet). */
  balance?: number;
  /** The provider's updatedAt of the last card event applied: older events change nothing. */
  provider_updated_at?: Date;
  created_at: Date;
  updated_at: Date;
}

const cardSchema = new Schema<Card>(
  {
    _id: { type: String, required: true },
    project_id: { type: String, required: true },
    order_id: { type: String, required: true },
    provider_card_id: { type: String, required: true },
    status: { type: String, enum: CARD_STATUSES, required: true },
    masked_pan: { type: String, required: true },
    secrets: {
      type: { key_id: String, iv: String, ciphertext: String, tag: String },
      required: true,
      _id: false,
    },
    currency: { type: String, required: true },
    product_code: { type: String, required: true },
    external_user_id: { type: String, required: true },
    label: { type: String },
    balance: { type: Number },
    provider_updated_at: { type: Date },
  },
  { timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' }, versionKey: false },
);
// One card per order, however often the worker retries after a crash.
cardSchema.index({ project_id: 1, order_id: 1 }, { unique: true });
// The partner's cards/list (src/partner-ops/), newest first with a keyset cursor on (created_at, _id).
cardSchema.index({ project_id: 1, created_at: -1, _id: -1 });
cardSchema.index({ project_id: 1, external_user_id: 1, created_at: -1, _id: -1 });
cardSchema.index({ project_id: 1, status: 1, created_at: -1, _id: -1 });
// The provider's webhooks and the reconciler's inventory name a card by the provider's id. Not
// unique: the card insert treats a duplicate key as its own earlier attempt, and must not mistake
// another order's card for it.
cardSchema.index({ provider_card_id: 1 });

export function cardModel(connection: Connection): Model<Card> {
  return (connection.models.Card as Model<Card> | undefined) ?? connection.model<Card>('Card', cardSchema, 'cards');
}
