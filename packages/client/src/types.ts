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

/** cardholders/create: who the partner's user is; the provider verifies it (docs/orders.md, "Cardholders"). */
export interface CreateCardholderRequest {
  /** 1-128 characters: the partner's id of the user, unique within the project. */
  external_user_id: string;
  name: { first: string; last: string };
  billing_address: {
    line1: string;
    line2?: string;
    city: string;
    postal_code: string;
    /** ISO 3166-1 alpha-2, capitals: "GB". */
    country: string;
    state?: string;
  };
  /** `phone` in E.164: "+447700900123". */
  contact: { email: string; phone?: string };
}

export interface GetCardholderRequest {
  external_user_id: string;
}

/** `pending` until the provider's verdict; only `verified` cardholders get cards. */
export type CardholderStatus = 'pending' | 'verified' | 'rejected';

export interface Cardholder {
  cardholder_id: string;
  external_user_id: string;
  status: CardholderStatus;
  name: { first: string | null; last: string | null };
  /** null for cardholders the gateway's staff created (they carry no address or contact). */
  billing_address: { line1: string; line2: string | null; city: string; postal_code: string; country: string; state: string | null } | null;
  contact: { email: string; phone: string | null } | null;
  created_at: string;
  updated_at: string;
  verified_at: string | null;
  rejected_at: string | null;
}

/** cards/topup and cards/withdraw: `amount` a positive decimal string in `currency`, the card's currency. */
export interface MoveFundsRequest {
  card_id: string;
  amount: string;
  currency: string;
}

/** cards/freeze, cards/unfreeze, cards/terminate. */
export interface CardChangeRequest {
  card_id: string;
}

export type CheckOrderRequest = { order_id: string } | { idempotency_key: string };

export type GetCardRequest = { card_id: string } | { order_id: string };

export type OrderStatus = 'new' | 'activating' | 'processing' | 'completed' | 'failed';

export type OrderType = 'card_issue' | 'balance_deposit' | 'card_topup' | 'card_withdraw' | 'card_freeze' | 'card_unfreeze' | 'card_terminate';

/** The request fields and amounts of an order as accepted; fields the order does not have are left out. */
export interface OrderData {
  product_code?: string;
  /** Card operations: the card named in the request. */
  card_id?: string;
  product_id?: number;
  external_user_id?: string;
  label?: string;
  currency?: string;
  /** Decimal strings. */
  initial_balance?: string;
  issue_fee?: string;
  /** What was taken from the master balance: fee + initial balance (card_issue), the amount (card_topup). */
  total_charge?: string;
  /** card_topup, card_withdraw, balance_deposit. */
  amount?: string;
  /** balance_deposit: staff's reason. */
  reason?: string;
}

/** Every order's view (not only card_issue's): the card operations answer the same shape. */
export interface CardIssueOrder {
  order_id: string;
  order_type: OrderType;
  status: OrderStatus;
  card_id: string | null;
  balance_before: string | null;
  balance_after: string | null;
  last_error: string | null;
  last_error_slug: string | null;
  data: OrderData;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  failed_at: string | null;
  issue_status: string | null;
  is_issued: boolean;
  provider_card_status: string | null;
  external_id: string | null;
}

/** A refund of an order: the ledger entry that gave the money back to the master balance. */
export interface OrderRefund {
  amount: string;
  ledger_seq: number;
  created_at: string;
}

/** What orders/check, orders/list, cards/create and the card operations answer: the order plus its refunds. */
export type PartnerOrder = CardIssueOrder & {
  /** Sum of `refunds` ("0.00" when none). */
  refunded_amount: string;
  refunds: OrderRefund[];
};

/** Filters of the lists: created_at >= from and < to (ISO 8601), newest first, keyset pages. */
export interface ListPage {
  /** 1 to 200, default 50. */
  limit?: number;
  /** The `next_cursor` of the previous page. */
  cursor?: string;
  from?: string;
  to?: string;
}

/** `frozen`: by cards/freeze or staff (the provider calls it inactive); `terminated` is final. */
export type CardStatus = 'active' | 'frozen' | 'terminated';

export interface ListCardsRequest extends ListPage {
  external_user_id?: string;
  status?: CardStatus;
}

export interface ListOrdersRequest extends ListPage {
  external_user_id?: string;
  status?: OrderStatus;
  order_type?: OrderType;
}

/** A card in cards/list: never its number, CVV or expiry (those only come from cards/get). */
export interface CardListItem {
  card_id: string;
  order_id: string;
  status: CardStatus;
  masked_pan: string;
  currency: string;
  product_code: string;
  external_user_id: string;
  label: string | null;
  /** Decimal string, as the provider last reported it after a top-up or withdrawal; null when not known. */
  balance: string | null;
  created_at: string;
  updated_at: string;
}

export interface CardList {
  cards: CardListItem[];
  /** Pass back as `cursor`; null on the last page. */
  next_cursor: string | null;
}

export interface OrderList {
  orders: PartnerOrder[];
  next_cursor: string | null;
}

export interface BalanceRequest extends ListPage {
  kind?: 'deposit' | 'charge' | 'refund' | 'withdrawal';
}

export interface StatementEntry {
  seq: number;
  kind: 'deposit' | 'charge' | 'refund' | 'withdrawal';
  /** Signed: charges negative. */
  amount: string;
  balance_before: string;
  balance_after: string;
  currency: string;
  order_id: string;
  order_type: string | null;
  card_id: string | null;
  external_id: string | null;
  created_at: string;
}

export interface BalanceAndStatement {
  currency: string;
  balance: string;
  /** The seq of the entry `balance` is taken from (0: no entry yet). */
  balance_seq: number;
  entries: StatementEntry[];
  next_cursor: string | null;
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

/** `order.<state>` for every order status change (card operations skip `activating`). */
export type OrderEventType = 'order.created' | 'order.activating' | 'order.processing' | 'order.completed' | 'order.failed';

/** `card.<state>` for every card state change: issued or unfrozen, frozen, terminated (always the card's last). */
export type CardEventType = 'card.active' | 'card.frozen' | 'card.terminated';

/** What every webhook event carries. Delivered at least once: deduplicate on `id`. */
interface WebhookEventBase {
  /** Stable per (subject, change): a retry or redelivery carries the same id. */
  id: string;
  project_id: string;
  /** Orders the events of one subject, which arrive in increasing `sequence` (duplicates aside). */
  sequence: number;
  created_at: string;
}

/** An order's event; `data` is the order as it stood when the event was recorded (its status may already be past `type`). */
export interface OrderWebhookEvent extends WebhookEventBase {
  type: OrderEventType;
  subject: { type: 'order'; id: string };
  /** Order: created 0, activating 1, processing 2, completed or failed 3. */
  sequence: number;
  data: PartnerOrder;
}

/** A card's event; `data` is the card as cards/list shows it when the event was recorded. */
export interface CardWebhookEvent extends WebhookEventBase {
  type: CardEventType;
  subject: { type: 'card'; id: string };
  /** The event's place in its card's chain: 0 for the card's first event, then one more per event. */
  sequence: number;
  data: CardListItem;
}

/** The outcome of a cardholder's verification: by the card provider, or as set by the gateway's staff. */
export type CardholderEventType = 'cardholder.verified' | 'cardholder.rejected';

/** A cardholder's event; `data` is the cardholder as cardholders/get shows it when the event was recorded. */
export interface CardholderWebhookEvent extends WebhookEventBase {
  type: CardholderEventType;
  /** `id` is the cardholder's `cardholder_id`. */
  subject: { type: 'cardholder'; id: string };
  /**
   * The verdict's time in milliseconds since the epoch: a later verdict on the same cardholder
   * (staff can change a staff-made one) has a higher sequence.
   */
  sequence: number;
  data: Cardholder;
}

/** A webhook event, as `PartnerClient.openEvent` returns it after decrypting and verifying it; `subject.type` tells which. */
export type WebhookEvent = OrderWebhookEvent | CardWebhookEvent | CardholderWebhookEvent;
