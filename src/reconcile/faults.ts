/**
 * Everything reconciliation can find wrong, one kind per rule. The table (`npm run reconcile`)
 * and the JSON report (`--json`) both name faults by these kinds.
 */
export const FAULT_KINDS = {
  chain_gap: 'ledger seq does not follow the previous entry (an entry is missing or out of place)',
  chain_break: "balance_before differs from the previous entry's balance_after",
  arithmetic: 'balance_after is not balance_before + amount',
  negative_balance: 'the balance went below zero',
  sign_mismatch: "the amount's sign does not fit its kind (charges negative, deposits and refunds positive)",
  currency_mismatch: "the entry's currency is not the project's",
  orphan_entry: 'a ledger entry whose order does not exist in this project',
  unexpected_entry: 'a ledger entry of a kind its order cannot have',
  duplicate_entry: 'an order charged, refunded or deposited more than once',
  missing_charge: 'a charged order without its charge entry',
  charge_mismatch: "a charge that differs from its order's total_charge or balance snapshots",
  missing_refund: 'a failed order without the refund it is owed',
  wrong_refund: 'a refund of another amount than the order is owed',
  unowed_refund: 'a refund on an order that is owed nothing',
  missing_deposit: 'a completed deposit order without its ledger entry',
  deposit_mismatch: "a deposit entry that differs from its order's amount or balance snapshots",
  stuck_order: 'an unfinished order with no progress for longer than the limit',
  card_missing: 'a completed card order without a card in the store',
  orphan_card: 'a card whose order does not exist in this project',
  card_mismatch: "a card whose status or masked number differs from the provider's",
  card_unknown_to_provider: 'the provider could not report a card we hold',
  provider_card_unknown: 'a live card at the provider that the gateway holds no card for (an orphan)',
  unknown_project: 'ledger entries or orders of a project that does not exist',
} as const;

export type FaultKind = keyof typeof FAULT_KINDS;

export interface Fault {
  kind: FaultKind;
  project_id: string;
  order_id?: string;
  seq?: number;
  card_id?: string;
  /** One line for a person; never card data. */
  detail: string;
}
