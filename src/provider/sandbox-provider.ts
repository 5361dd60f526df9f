import { randomInt } from 'node:crypto';
import type { Connection } from 'mongoose';
import type { CardCipher } from '../cards/card-cipher.js';
import { luhnCheckDigit, maskPan } from '../cards/luhn.js';
import { providerCardIdFor, providerTopUpIdFor } from '../ids/ids.js';
import { insertUnique, isDuplicateKeyError, DuplicateKeyError } from '../store/duplicate-key.js';
import {
  ProviderError,
  type CardProvider,
  type CardSecrets,
  type CreateCardRequest,
  type ProviderCard,
  type ProviderFailure,
  type TopUpRequest,
  type TopUpResult,
} from './card-provider.js';
import { sandboxModels, type SandboxCard, type SandboxModels, type SandboxRule } from './sandbox-models.js';

/** Visa's documented test range: numbers from it never reach a real issuer. */
export const SANDBOX_BIN = '400000';

export const DEFAULT_RULE: SandboxRule = { card_issue: 'auto', topup_result: 'succeed' };

export interface SandboxOptions {
  latencyMs: number;
  /** Probability that any call fails as `unavailable` (transient) before doing anything. */
  failureRate: number;
}

export function ruleId(projectId: string, externalUserId: string): string {
  return `${projectId}:${externalUserId}`;
}

/**
 * The card provider of the sandbox, inside the gateway: makes Luhn-valid test cards with CVV and
 * expiry, tops them up, and can be told (per cardholder, through the simulator) to hold, fail,
 * decline or time out. Idempotency keys are unique indexes in its own collections, so a repeated
 * call after a crash returns what the first call made.
 */
export class SandboxCardProvider implements CardProvider {
  private readonly models: SandboxModels;

  constructor(
    connection: Connection,
    private readonly cipher: CardCipher,
    private readonly options: SandboxOptions,
  ) {
    this.models = sandboxModels(connection);
  }

  async createCard(request: CreateCardRequest): Promise<ProviderCard> {
    await this.enter();
    // Like a real provider, the sandbox keys its cards by the caller's idempotency key: the card's
    // id is derived from it, so a repeated call is one lookup by _id.
    const id = providerCardIdFor(request.idempotencyKey);
    const existing = await this.models.cards.findOne({ _id: id, idempotency_key: request.idempotencyKey }).lean<SandboxCard>();
    if (existing) return view(existing);

    const rule = await this.rule(request.projectId, request.externalUserId);
    await this.maybeFail(`${request.idempotencyKey}`, rule.create_card_failure);

    const body = `${SANDBOX_BIN}${String(randomInt(0, 1_000_000_000)).padStart(9, '0')}`;
    const pan = body + luhnCheckDigit(body);
    const now = new Date();
    const card: SandboxCard = {
      _id: id,
      idempotency_key: request.idempotencyKey,
      project_id: request.projectId,
      order_id: request.orderId,
      external_user_id: request.externalUserId,
      status: rule.card_issue === 'auto' ? 'active' : rule.card_issue === 'hold' ? 'issuing' : 'failed',
      masked_pan: maskPan(pan),
      secrets: this.cipher.seal(id, {
        pan,
        cvv: String(randomInt(0, 1000)).padStart(3, '0'),
        expiry_month: now.getUTCMonth() + 1,
        expiry_year: now.getUTCFullYear() + 3,
      }),
      currency: request.currency,
      created_at: now,
      updated_at: now,
    };
    try {
      await insertUnique('sandbox_cards', () => this.models.cards.create(card));
      return view(card);
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
      // A concurrent call with the same key made it first: that card is the answer.
      const winner = await this.models.cards.findOne({ _id: id, idempotency_key: request.idempotencyKey }).lean<SandboxCard>();
      if (!winner) throw err;
      return view(winner);
    }
  }

  async getCard(providerCardId: string): Promise<ProviderCard> {
    await this.enter();
    const card = await this.card(providerCardId);
    return { ...view(card), balance: await this.balance(card._id) };
  }

  async topUp(request: TopUpRequest): Promise<TopUpResult> {
    await this.enter();
    const topUpId = providerTopUpIdFor(request.idempotencyKey);
    const existing = await this.models.topUps.findOne({ _id: topUpId, idempotency_key: request.idempotencyKey }).lean();
    if (existing) return { topUpId: existing._id, status: existing.status };

    const card = await this.card(request.providerCardId);
    const rule = await this.rule(card.project_id, card.external_user_id);
    await this.maybeFail(request.idempotencyKey, rule.topup_failure);

    const refused = card.status !== 'active' || rule.topup_result === 'fail' || request.currency !== card.currency;
    const status = refused ? 'failed' : 'succeeded';
    const topUp = {
      _id: topUpId,
      idempotency_key: request.idempotencyKey,
      provider_card_id: card._id,
      amount: request.amount,
      currency: request.currency,
      status,
      verified_status: rule.topup_result === 'verify_fail' ? 'failed' : status,
      created_at: new Date(),
    } as const;
    try {
      await this.models.topUps.create(topUp);
      return { topUpId: topUp._id, status };
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      const winner = await this.models.topUps.findOne({ _id: topUpId, idempotency_key: request.idempotencyKey }).lean();
      if (!winner) throw err;
      return { topUpId: winner._id, status: winner.status };
    }
  }

  async verifyTopUp(providerCardId: string, topUpId: string): Promise<TopUpResult> {
    await this.enter();
    const topUp = await this.models.topUps.findOne({ _id: topUpId, provider_card_id: providerCardId }).lean();
    if (!topUp) return { topUpId, status: 'failed' };
    return { topUpId, status: topUp.verified_status };
  }

  async readCardSecrets(providerCardId: string): Promise<CardSecrets> {
    await this.enter();
    const card = await this.card(providerCardId);
    const secrets = this.cipher.open(card._id, card.secrets);
    return { pan: secrets.pan, cvv: secrets.cvv, expiryMonth: secrets.expiry_month, expiryYear: secrets.expiry_year };
  }

  /** Card balance: the sum of the top-ups that landed (the sandbox has no spending). */
  private async balance(providerCardId: string): Promise<number> {
    const landed = await this.models.topUps.find({ provider_card_id: providerCardId, verified_status: 'succeeded' }).lean();
    return landed.reduce((sum, t) => sum + t.amount, 0);
  }

  private async card(providerCardId: string): Promise<SandboxCard> {
    const card = await this.models.cards.findById(providerCardId).lean<SandboxCard>();
    if (!card) throw new ProviderError('declined', false, 'unknown card');
    return card;
  }

  private async rule(projectId: string, externalUserId: string): Promise<SandboxRule> {
    return (await this.models.rules.findById(ruleId(projectId, externalUserId)).lean()) ?? DEFAULT_RULE;
  }

  /** Latency and random failures apply to every call, as they would over a network. */
  private async enter(): Promise<void> {
    if (this.options.latencyMs > 0) await new Promise((r) => setTimeout(r, this.options.latencyMs));
    if (this.options.failureRate > 0 && Math.random() < this.options.failureRate) {
      throw new ProviderError('unavailable', true, 'sandbox: injected random outage');
    }
  }

  /** Fails the call while fewer than `times` failures were injected for this key. */
  private async maybeFail(key: string, injection: { failure: ProviderFailure; times: number } | undefined): Promise<void> {
    if (!injection) return;
    if (injection.failure === 'declined') throw new ProviderError('declined', false, 'sandbox: declined');
    const injected = await this.models.failures.countDocuments({ key });
    if (injected >= injection.times) return;
    try {
      await this.models.failures.collection.insertOne({ key, n: injected + 1, created_at: new Date() });
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
    throw new ProviderError(injection.failure, true, `sandbox: injected ${injection.failure}`);
  }

}

function view(card: SandboxCard): ProviderCard {
  return { providerCardId: card._id, status: card.status, maskedPan: card.masked_pan, currency: card.currency, balance: 0 };
}
