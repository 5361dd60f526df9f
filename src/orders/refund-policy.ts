import type { Order } from './order-model.js';

/**
 * What a failed card-issue (or card top-up) order is owed back, in minor units (contract section 3): card creation
 * failed -> the whole charge (fee and initial balance); the initial top-up failed -> the initial
 * balance; refused at creation, or never charged -> nothing. The workflow refunds by this and
 * reconciliation checks by it, so both read the same rule.
 */
export function refundOwed(order: Pick<Order, 'order_type' | 'status' | 'issue_status' | 'data' | 'rejected' | 'balance_after'>): number {
  if (order.status !== 'failed' || order.rejected) return 0;
  if (order.balance_after === undefined) return 0; // never charged
  // A card top-up that failed after its charge did not reach the card: all of it goes back.
  if (order.order_type === 'card_topup') return order.data.total_charge ?? 0;
  if (order.order_type !== 'card_issue') return 0;
  switch (order.issue_status) {
    case 'initial_topup_error':
    case 'initial_topup_verify_error':
      return order.data.initial_balance ?? 0;
    default:
      // Failed before or during card creation: nothing was delivered.
      return order.data.total_charge ?? 0;
  }
}
