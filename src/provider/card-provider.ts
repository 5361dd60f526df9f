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
  /** The order the card was made for, as the provider records it (card lists, reconciliation). */
  orderId?: string;
}

export interface CreateAccountRequest {
  idempotencyKey: string;
  /** The gateway's cardholder id: the provider keeps one account per reference. */
  reference: string;
  name: string;
  /** The customer's details the provider verifies (cardholders created through the partner API). */
  billingAddress?: { line1: string; line2?: string; city: string; postalCode: string; country: string; state?: string };
  email?: string;
  phone?: string;
}

/** The provider's verification of a customer account; it may come later than the account. */
export type AccountVerification = 'pending' | 'verified' | 'rejected';

export interface ProviderAccount {
  accountId: string;
  reference: string;
  verification: AccountVerification;
}

/** A lifecycle change of one card (deactivate, activate, terminate). */
export interface CardChangeRequest {
  idempotencyKey: string;
  providerCardId: string;
}

export interface CardPage {
  cards: ProviderCard[];
  /** Pass back to get the next page; absent on the last one. */
  nextPage?: number;
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
  /** Idempotent by request.reference as well as the key: one account per cardholder. */
  createAccount(request: CreateAccountRequest): Promise<ProviderAccount>;
  /** The account as the provider has it now (its verification may have moved since createAccount). */
  getAccount(accountId: string): Promise<ProviderAccount>;
  /** The programme's cards (or one account's), one page at a time, oldest first. */
  listCards(query: { accountId?: string; page?: number }): Promise<CardPage>;
  /** Freeze: `active` -> `inactive`. Idempotent by key. */
  deactivate(request: CardChangeRequest): Promise<ProviderCard>;
  /** Unfreeze: `inactive` -> `active`. */
  activate(request: CardChangeRequest): Promise<ProviderCard>;
  /** Irreversible: -> `terminated`. */
  terminate(request: CardChangeRequest): Promise<ProviderCard>;
  /** Takes funds off a card (the reverse of topUp). Idempotent by key. */
  withdraw(request: TopUpRequest): Promise<TopUpResult>;
}

export type ProviderFailure = 'declined' | 'unavailable' | 'timeout';

/** A provider call that failed. Transient failures are retried with backoff; others end the order. */
export class ProviderError extends Error {
  override name = 'ProviderError';
  constructor(
    readonly failure: ProviderFailure,
    readonly transient: boolean,
    message: string,
    /** The provider's HTTP status, when it answered one. */
    readonly status?: number,
  ) {
    super(message);
  }
}
