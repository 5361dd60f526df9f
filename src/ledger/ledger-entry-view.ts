import { formatMinor } from '../money/money.js';
import type { LedgerEntry } from './ledger-entry-model.js';

/** A ledger entry's amounts as decimal strings: what staff (console) and partners (statement) are shown alike. */
export interface LedgerEntryAmounts {
  seq: number;
  kind: LedgerEntry['kind'];
  amount: string;
  balance_before: string;
  balance_after: string;
  currency: string;
  order_id: string;
}

export function ledgerEntryAmounts(e: LedgerEntry, exponent: number): LedgerEntryAmounts {
  const money = (minor: number) => formatMinor(minor, exponent);
  return {
    seq: e.seq,
    kind: e.kind,
    amount: money(e.amount),
    balance_before: money(e.balance_before),
    balance_after: money(e.balance_after),
    currency: e.currency,
    order_id: e.order_id,
  };
}
