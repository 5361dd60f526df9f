import { Schema, type Connection, type Model } from 'mongoose';
import type { Slug } from '../errors/slugs.js';

/**
 * An order (contract section 3, CardIssueOrder; seed 002). Card-issue orders are driven by the
 * issuance worker; balance deposits are orders too, so every ledger entry belongs to an order.
 * Money fields are minor units here and decimal strings on the wire.
 */
export const ORDER_TYPES = ['card_issue', 'balance_deposit', 'card_topup', 'card_withdraw', 'card_freeze', 'card_unfreeze', 'card_terminate'] as const;
export type OrderType = (typeof ORDER_TYPES)[number];
export type OrderStatus = 'new' | 'activating' | 'processing' | 'completed' | 'failed';
export type IssueStatus =
  | 'card_create_pending'
  | 'card_create_done'
  | 'card_create_error'
  | 'initial_topup_pending'
  | 'initial_topup_in_progress'
  | 'initial_topup_error'
  | 'initial_topup_done'
  | 'initial_topup_verify_error'
  | 'initial_topup_skipped'
  | 'completed'
  // Card operations (src/card-ops/): the provider call is recorded as in progress before it is sent.
  | 'topup_in_progress'
  | 'topup_done'
  | 'topup_error'
  | 'withdraw_in_progress'
  | 'withdraw_done'
  | 'withdraw_error'
  | 'card_change_in_progress'
  | 'card_change_done'
  | 'card_change_error';

export const TERMINAL_STATUSES: readonly OrderStatus[] = ['completed', 'failed'];
/** The statuses an order passes through before it is terminal. */
export const UNFINISHED_STATUSES: readonly OrderStatus[] = ['new', 'activating', 'processing'];

/** The request fields and amounts of the order, as it was accepted. */
export interface OrderData {
  product_code?: string;
  product_id?: number;
  external_user_id?: string;
  label?: string;
  currency?: string;
  /** Minor units. */
  initial_balance?: number;
  issue_fee?: number;
  total_charge?: number;
  /** Deposits, top-ups and withdrawals: the amount (minor units); deposits also the staff member's reason. */
  amount?: number;
  /** Card operations: the card the partner named (the order's card_id once it is known to be theirs). */
  card_id?: string;
  reason?: string;
}

export interface Order {
  _id: string;
  project_id: string;
  order_type: OrderType;
  idempotency_key: string;
  /** sha256 of the canonical request body: a key reused with another body is refused. */
  request_hash: string;
  status: OrderStatus;
  issue_status?: IssueStatus;
  is_issued: boolean;
  provider_card_status?: string;
  /** The provider's id for the card, once created. */
  provider_card_id?: string;
  /** The provider's id for the initial top-up, once requested (verified in the next step). */
  provider_topup_id?: string;
  card_id?: string;
  external_id?: string;
  external_user_id?: string;
  /** Who asked for it when not the partner: `staff:<name>` for a card operation made by staff (src/card-ops/card-ops-admin.ts). */
  created_by?: string;
  data: OrderData;
  /** Project balance around this order's charge (or deposit), minor units. */
  balance_before?: number;
  balance_after?: number;
  /** True when the order was refused by a business rule at creation (answered 422). */
  rejected: boolean;
  last_error?: string;
  last_error_slug?: Slug;
  /** Workflow bookkeeping: attempts of the current step and when to try next. */
  attempts: number;
  next_attempt_at?: Date;
  /** Lease: which worker holds the order, until when. */
  lease_owner?: string;
  lease_expires_at?: Date;
  created_at: Date;
  updated_at: Date;
  completed_at?: Date;
  failed_at?: Date;
}

const orderSchema = new Schema<Order>(
  {
    _id: { type: String, required: true },
    project_id: { type: String, required: true },
    order_type: { type: String, enum: ORDER_TYPES, required: true },
    idempotency_key: { type: String, required: true },
    request_hash: { type: String, required: true },
    status: { type: String, enum: ['new', 'activating', 'processing', 'completed', 'failed'], required: true },
    issue_status: { type: String },
    is_issued: { type: Boolean, required: true, default: false },
    provider_card_status: { type: String },
    provider_card_id: { type: String },
    provider_topup_id: { type: String },
    card_id: { type: String },
    external_id: { type: String },
    external_user_id: { type: String },
    created_by: { type: String },
    data: { type: Schema.Types.Mixed, required: true, default: {} },
    balance_before: { type: Number },
    balance_after: { type: Number },
    rejected: { type: Boolean, required: true, default: false },
    last_error: { type: String },
    last_error_slug: { type: String },
    attempts: { type: Number, required: true, default: 0 },
    next_attempt_at: { type: Date },
    lease_owner: { type: String },
    lease_expires_at: { type: Date },
    completed_at: { type: Date },
    failed_at: { type: Date },
  },
  { timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' }, versionKey: false, minimize: false },
);
// Idempotency: one order per (project, key), whatever the race.
orderSchema.index({ project_id: 1, idempotency_key: 1 }, { unique: true });
// The worker's claim query: unfinished orders due for a step.
orderSchema.index({ status: 1, next_attempt_at: 1 });
// Support and back-office lookups (src/back-office/order-lookup.ts), newest first. Each ends in
// (created_at -1, _id -1): the lookup sorts on exactly that pair and pages with a keyset cursor on
// it, so with _id in the index the sort and the cursor bound are both a walk of the index, never an
// in-memory sort of every matching order. Equality filters lead; a range on created_at (from/to)
// narrows the same walk.
orderSchema.index({ project_id: 1, created_at: -1, _id: -1 });
orderSchema.index({ last_error_slug: 1, created_at: -1, _id: -1 });
orderSchema.index({ status: 1, created_at: -1, _id: -1 });
orderSchema.index({ project_id: 1, external_user_id: 1, created_at: -1, _id: -1 });
orderSchema.index({ project_id: 1, external_id: 1, created_at: -1, _id: -1 });
orderSchema.index({ created_at: -1, _id: -1 });
orderSchema.index({ card_id: 1, created_at: -1, _id: -1 });
orderSchema.index({ issue_status: 1, created_at: -1, _id: -1 });
// (project_id, idempotency_key) is served by the unique index above: at most one order.
// The partner's orders/list (src/partner-ops/): the project's orders by status or by type.
orderSchema.index({ project_id: 1, status: 1, created_at: -1, _id: -1 });
orderSchema.index({ project_id: 1, order_type: 1, created_at: -1, _id: -1 });
// The webhook outbox reads orders in the order they changed (src/webhooks/order-events.ts).
orderSchema.index({ updated_at: 1, _id: 1 });
// Reconciliation walks a project's orders in _id order beside its ledger (sorted by the ledger's
// own (project_id, order_id, kind) index): a merge join in constant memory.
orderSchema.index({ project_id: 1, _id: 1 });

export function orderModel(connection: Connection): Model<Order> {
  return (connection.models.Order as Model<Order> | undefined) ?? connection.model<Order>('Order', orderSchema, 'orders');
}
