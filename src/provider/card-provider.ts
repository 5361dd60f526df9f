/**
 * What the gateway needs from a card provider. Every call that changes something carries an
 * idempotency key derived from the order and the step, so a call repeated after a crash or a
 * timeout never makes a second card or a second top-up.
 */

export type ProviderCardStatus = 'issuing' | 'active' | 'failed' | 'inactive' | 'terminated';

export interface CreateCardRequest {
  idempotencyKey: string;
  orderId: string;
  projectId: string;
  productCode: string;
  currency: string;
  externalUserId: string;
  label?: string;
  limits: { per_transaction?: number; daily?: number; monthly?: number };
}

export interface ProviderCard {
  providerCardId: string;
  status: ProviderCardStatus;
  maskedPan: string;
  currency: string;
  /** Card balance at the provider, minor units. */
  balance: number;
}

export interface TopUpRequest {
  idempotencyKey: string;
  providerCardId: string;
  /** Minor units of `currency`. */
  amount: number;
  currency: string;
}

export interface TopUpResult {
  topUpId: string;
  status: 'pending' | 'succeeded' | 'failed';
}

export interface CardSecrets {
  pan: string;
  cvv: string;
  expiryMonth: number;
  expiryYear: number;
}

export interface CardProvider {
  /** Idempotent by request.idempotencyKey: a repeat returns the card made the first time. */
  createCard(request: CreateCardRequest): Promise<ProviderCard>;
  getCard(providerCardId: string): Promise<ProviderCard>;
  /** Idempotent by request.idempotencyKey. */
  topUp(request: TopUpRequest): Promise<TopUpResult>;
  /** Asks the provider whether a top-up really landed on the card. */
  verifyTopUp(providerCardId: string, topUpId: string): Promise<TopUpResult>;
  readCardSecrets(providerCardId: string): Promise<CardSecrets>;
}

export type ProviderFailure = 'declined' | 'unavailable' | 'timeout';

/** A provider call that failed. Transient failures are retried with backoff; others end the order. */
export class ProviderError extends Error {
  override name = 'ProviderError';
  constructor(
    readonly failure: ProviderFailure,
    readonly transient: boolean,
    message: string,
  ) {
    super(message);
  }
}
