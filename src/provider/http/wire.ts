/**
 * The card provider's wire format (docs/provider.md): what goes over HTTP between the gateway and
 * the issuing platform. The simulator (provider-sim/) imports these types and nothing else from src/.
 */

export type WireCardStatus = 'issuing' | 'active' | 'failed' | 'inactive' | 'terminated';

export interface WireAddress {
  firstLine: string;
  secondLine?: string;
  city: string;
  state?: string;
  country: string;
  postCode: string;
}

/** `POST /v1/accounts`: the customer account a cardholder's cards belong to. */
export interface WireCreateAccount {
  /** The gateway's cardholder id: one account per reference. */
  reference: string;
  name: string;
  /** What the platform verifies the customer with (cardholders created through the partner API). */
  billingAddress?: WireAddress;
  email?: string;
  phone?: string;
}

/** `pending` until the platform has verified the customer (`active`) or refused it (`rejected`). */
export type WireAccountStatus = 'pending' | 'active' | 'rejected';

export interface WireAccount {
  id: string;
  reference: string;
  name: string;
  status: WireAccountStatus;
  createdAt: string;
}

/** `POST /v1/accounts/{accountId}/cards` (seed 001). */
export interface WireCreateCard {
  type: 'virtual';
  billingAddress: WireAddress;
  currency: string;
  /** The gateway's order id, shown back in card lists (reconciliation). */
  externalId: string;
  label?: string;
}

export interface WireCard {
  id: string;
  accountId: string;
  type: 'virtual';
  externalId: string;
  network: 'visa';
  maskedPan: string;
  /** MM/YYYY */
  expirationDate: string;
  billingAddress: WireAddress;
  currency: string;
  /** Minor units of `currency` on the card. */
  balance: number;
  status: WireCardStatus;
  createdAt: string;
  updatedAt: string;
}

/** `GET /v1/cards/{cardId}/sensitive`: never logged, never stored by the gateway unsealed. */
export interface WireCardSensitive {
  pan: string;
  cvv: string;
  expirationDate: string;
}

/** `GET /v1/cards`, `GET /v1/accounts/{id}/cards`: one page. */
export interface WireCardPage {
  items: WireCard[];
  /** The page after this one; absent on the last. */
  nextPage?: number;
}

/** `POST /v1/cards/{cardId}/load` and `/unload`. */
export interface WireMoveFunds {
  amount: number;
  currency: string;
}

export interface WireFundsMovement {
  id: string;
  cardId: string;
  direction: 'load' | 'unload';
  amount: number;
  currency: string;
  status: 'succeeded' | 'failed';
  createdAt: string;
}

export type WireWebhookType = 'card.issued' | 'card.failed' | 'card.deactivated' | 'card.activated' | 'card.terminated' | 'card.updated';

/** What the provider POSTs to the gateway's webhook endpoint, signed (docs/provider.md). */
export interface WireWebhookEvent {
  id: string;
  type: WireWebhookType;
  createdAt: string;
  data: { card: WireCard };
}

/** The platform's verdict on a customer account, POSTed like the card events. */
export interface WireAccountWebhookEvent {
  id: string;
  type: 'account.verified' | 'account.rejected';
  createdAt: string;
  data: { account: WireAccount };
}

/** Every refusal's body. */
export interface WireError {
  code: string;
  message: string;
}

/** The signed components of a request that changes something, and of a webhook. */
export const SIGNED_WRITE_COMPONENTS = ['@method', '@target-uri', 'content-digest', 'idempotency-key'] as const;
export const SIGNED_READ_COMPONENTS = ['@method', '@target-uri'] as const;
export const SIGNED_WEBHOOK_COMPONENTS = ['@method', '@path', 'content-digest'] as const;
/** The signature label both sides use. */
export const SIGNATURE_LABEL = 'sig1';
