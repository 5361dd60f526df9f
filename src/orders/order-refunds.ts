import type { Connection, Model } from 'mongoose';
import { ledgerEntryModel, type LedgerEntry } from '../ledger/ledger-entry-model.js';
import { formatMinor } from '../money/money.js';
import type { OrderView } from './order-view.js';

/** A refund of an order as the partner sees it: the ledger entry that gave the money back. */
export interface RefundView {
  /** Decimal string, positive: what went back to the master balance. */
  amount: string;
  /** The refund's place in the project's ledger (the statement's `seq`). */
  ledger_seq: number;
  created_at: string;
}

/** The partner's order view: the contract's fields plus the refunds the ledger holds for it. */
export type PartnerOrderView = OrderView & {
  /** Sum of `refunds`, decimal string ("0.00" when none). */
  refunded_amount: string;
  refunds: RefundView[];
};

/**
 * Only an order that failed after its charge can hold a refund (an order refused at creation is
 * never charged and has no balance_after), so only those cost a ledger read (one query for a whole
 * page); every other order is answered without touching the ledger.
 */
function mayHoldRefund(view: OrderView): boolean {
  return view.status === 'failed' && view.balance_after !== null;
}

/** Refunds live in the ledger only (unique per order and kind); this puts them on the order view. */
export class OrderRefunds {
  private readonly entries: Model<LedgerEntry>;

  constructor(connection: Connection) {
    this.entries = ledgerEntryModel(connection);
  }

  async attach<V extends OrderView>(projectId: string, views: readonly V[], exponent: number): Promise<(V & PartnerOrderView)[]> {
    const candidates = views.filter(mayHoldRefund).map((v) => v.order_id);
    const byOrder = new Map<string, LedgerEntry[]>();
    if (candidates.length > 0) {
      const refunds = await this.entries
        .find({ project_id: projectId, order_id: { $in: candidates }, kind: 'refund' })
        .sort({ seq: 1 })
        .lean<LedgerEntry[]>();
      for (const entry of refunds) byOrder.set(entry.order_id, [...(byOrder.get(entry.order_id) ?? []), entry]);
    }
    return views.map((view) => {
      const refunds = byOrder.get(view.order_id) ?? [];
      return {
        ...view,
        refunded_amount: formatMinor(refunds.reduce((sum, e) => sum + e.amount, 0), exponent),
        refunds: refunds.map((e) => ({ amount: formatMinor(e.amount, exponent), ledger_seq: e.seq, created_at: e.created_at.toISOString() })),
      };
    });
  }
}
