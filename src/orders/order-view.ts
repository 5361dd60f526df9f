import { formatMinor } from '../money/money.js';
import type { Order } from './order-model.js';

/** The CardIssueOrder as partners and staff see it (seed 002): money as decimal strings. */
export interface OrderView {
  order_id: string;
  order_type: string;
  status: string;
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

const MONEY_FIELDS = ['initial_balance', 'issue_fee', 'total_charge', 'amount'] as const;

/** `exponent`: minor-unit digits of the project's balance currency (also the product's). */
export function toOrderView(order: Order, exponent: number): OrderView {
  const money = (v: number | undefined) => (v === undefined ? null : formatMinor(v, exponent));
  const data: Record<string, unknown> = { ...order.data };
  for (const field of MONEY_FIELDS) {
    const value = order.data[field];
    if (value !== undefined) data[field] = formatMinor(value, exponent);
  }
  return {
    order_id: order._id,
    order_type: order.order_type,
    status: order.status,
    card_id: order.card_id ?? null,
    balance_before: money(order.balance_before),
    balance_after: money(order.balance_after),
    last_error: order.last_error ?? null,
    last_error_slug: order.last_error_slug ?? null,
    data,
    created_at: order.created_at.toISOString(),
    updated_at: order.updated_at.toISOString(),
    completed_at: order.completed_at?.toISOString() ?? null,
    failed_at: order.failed_at?.toISOString() ?? null,
    issue_status: order.issue_status ?? null,
    is_issued: order.is_issued,
    provider_card_status: order.provider_card_status ?? null,
    external_id: order.external_id ?? null,
  };
}
