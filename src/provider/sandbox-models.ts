import { Schema, type Connection, type Model } from 'mongoose';
import type { EncryptedCardSecrets } from '../cards/card-model.js';
import type { ProviderCardStatus, ProviderFailure } from './card-provider.js';

/**
 * The sandbox provider's own records. They live in the gateway's database so that its
 * idempotency (one card per key, one top-up per key) survives a gateway crash, as a real
 * provider's would.
 */
export interface SandboxCard {
  _id: string;
  idempotency_key: string;
  project_id: string;
  order_id: string;
  external_user_id: string;
  status: ProviderCardStatus;
  masked_pan: string;
  /** Sealed like the gateway's own cards: even test numbers are not stored in the clear. */
  secrets: EncryptedCardSecrets;
  currency: string;
  created_at: Date;
  updated_at: Date;
}

export interface SandboxTopUp {
  _id: string;
  idempotency_key: string;
  provider_card_id: string;
  amount: number;
  currency: string;
  status: 'succeeded' | 'failed';
  /** What verifyTopUp reports: a simulated lost top-up says failed here although topUp succeeded. */
  verified_status: 'succeeded' | 'failed';
  created_at: Date;
}

/** How the sandbox treats the cards of one cardholder (set through the simulator). */
export interface SandboxRule {
  /** auto: issued at once; hold: stays `issuing` until the simulator issues or fails it; fail: fails. */
  card_issue: 'auto' | 'hold' | 'fail';
  /** Make createCard fail `times` times (declined is permanent whatever `times`). */
  create_card_failure?: { failure: ProviderFailure; times: number };
  topup_failure?: { failure: ProviderFailure; times: number };
  /** succeed: normal; fail: the top-up is refused; verify_fail: accepted but verification says it failed. */
  topup_result: 'succeed' | 'fail' | 'verify_fail';
}

export interface SandboxRuleDoc extends SandboxRule {
  _id: string;
  project_id: string;
  external_user_id: string;
  updated_at: Date;
}

/** One injected failure: (key, n) is unique, so "fail N times" counts exactly, across processes. */
export interface SandboxFailure {
  key: string;
  n: number;
  created_at: Date;
}

const secretsType = { type: { key_id: String, iv: String, ciphertext: String, tag: String }, required: true, _id: false };

const cardSchema = new Schema<SandboxCard>(
  {
    _id: { type: String, required: true },
    idempotency_key: { type: String, required: true },
    project_id: { type: String, required: true },
    order_id: { type: String, required: true },
    external_user_id: { type: String, required: true },
    status: { type: String, required: true },
    masked_pan: { type: String, required: true },
    secrets: secretsType,
    currency: { type: String, required: true },
  },
  { timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' }, versionKey: false },
);
cardSchema.index({ idempotency_key: 1 }, { unique: true });
cardSchema.index({ order_id: 1 });

const topUpSchema = new Schema<SandboxTopUp>(
  {
    _id: { type: String, required: true },
    idempotency_key: { type: String, required: true },
    provider_card_id: { type: String, required: true },
    amount: { type: Number, required: true },
    currency: { type: String, required: true },
    status: { type: String, required: true },
    verified_status: { type: String, required: true },
    created_at: { type: Date, required: true },
  },
  { versionKey: false },
);
topUpSchema.index({ idempotency_key: 1 }, { unique: true });
topUpSchema.index({ provider_card_id: 1 });

const ruleSchema = new Schema<SandboxRuleDoc>(
  {
    _id: { type: String, required: true },
    project_id: { type: String, required: true },
    external_user_id: { type: String, required: true },
    card_issue: { type: String, required: true },
    create_card_failure: { type: { failure: String, times: Number }, _id: false },
    topup_failure: { type: { failure: String, times: Number }, _id: false },
    topup_result: { type: String, required: true },
    updated_at: { type: Date, required: true },
  },
  { versionKey: false },
);

const failureSchema = new Schema<SandboxFailure>(
  { key: { type: String, required: true }, n: { type: Number, required: true }, created_at: { type: Date, required: true } },
  { versionKey: false },
);
failureSchema.index({ key: 1, n: 1 }, { unique: true });

export function sandboxModels(connection: Connection) {
  const get = <T>(name: string, schema: Schema<T>, collection: string): Model<T> =>
    (connection.models[name] as Model<T> | undefined) ?? connection.model<T>(name, schema, collection);
  return {
    cards: get('SandboxCard', cardSchema, 'sandbox_cards'),
    topUps: get('SandboxTopUp', topUpSchema, 'sandbox_topups'),
    rules: get('SandboxRule', ruleSchema, 'sandbox_rules'),
    failures: get('SandboxFailure', failureSchema, 'sandbox_failures'),
  };
}

export type SandboxModels = ReturnType<typeof sandboxModels>;
