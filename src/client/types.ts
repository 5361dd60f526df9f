/**
 * The wire shapes of the partner endpoints (contract section 3), as a partner sees them.
 * Money is a decimal string in the card's currency; timestamps are ISO 8601 strings.
 */

export interface CreateCardRequest {
  product_code?: string;
  /** Legacy numeric product id; `product_code` is preferred. */
  product_id?: number;
  external_user_id: string;
  initial_balance?: string;
  label?: string;
  /** The partner's own reference for the order. */
  external_id?: string;
}

export type CheckOrderRequest = { order_id: string } | { idempotency_key: string };

export type GetCardRequest = { card_id: string } | { order_id: string };

export type OrderStatus = 'new' | 'activating' | 'processing' | 'completed' | 'failed';

export interface CardIssueOrder {
  order_id: string;
  order_type: string;
  status: OrderStatus;
  card_id: string | null;
  balance_before: string | null;
  balance_after: string | null;
  last_error: string | null;
  last_error_slug: string | null;
  data: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  failed_at: string | null;
  issue_status: string | null;
  is_issued: boolean;
  provider_card_status: string | null;
  external_id: string | null;
}

export interface CardData {
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

/** A successful answer: the verified `data`, plus what the headers said. */
export interface GatewayResponse<T> {
  status: number;
  data: T;
  requestId: string;
  /** True when the gateway answered a repeated Idempotency-Key with the original result. */
  idempotentReplayed: boolean;
}
