import type { Connection, Model } from 'mongoose';
import type { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.js';
import { ledgerEntryModel, type LedgerEntry } from '../ledger/ledger-entry-model.js';
import { ledgerEntryAmounts } from '../ledger/ledger-entry-view.js';
import type { LedgerService } from '../ledger/ledger-service.js';
import { currencyExponent, formatMinor } from '../money/money.js';
import { orderModel, type Order } from '../orders/order-model.js';
import type { Project } from '../projects/project-model.js';
import type { balanceBody } from './list-requests.js';

/** One ledger entry of the statement, with the order it belongs to. */
export interface StatementEntry {
  /** The entry's place in the project's chain: 1, 2, 3, ... without gaps. */
  seq: number;
  kind: string;
  /** Signed decimal string: charges negative, deposits and refunds positive. */
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
  /** The master balance now: the last entry's balance_after ("0.00" before the first entry). */
  balance: string;
  /** The seq of that last entry (0 for an empty chain): the statement never goes past it. */
  balance_seq: number;
  entries: StatementEntry[];
  next_cursor: string | null;
}

/**
 * balance: the master balance and the ledger behind it, newest entry first, keyset-paged on seq.
 * Entries are immutable and only ever appended with a higher seq, so a page never shifts: a
 * partner walking the cursor to the end has seen every entry up to balance_seq exactly once.
 */
export class Statement {
  private readonly entries: Model<LedgerEntry>;
  private readonly orders: Model<Order>;

  constructor(
    connection: Connection,
    private readonly ledger: LedgerService,
  ) {
    this.entries = ledgerEntryModel(connection);
    this.orders = orderModel(connection);
  }

  async read(project: Project, request: z.infer<typeof balanceBody>): Promise<BalanceAndStatement> {
    const exponent = currencyExponent(project.currency);
    const last = await this.ledger.lastEntry(project._id);
    const headSeq = last?.seq ?? 0;
    const before = request.cursor === undefined ? headSeq + 1 : decodeSeqCursor(request.cursor);

    const query: Record<string, unknown> = { project_id: project._id, seq: { $lt: Math.min(before, headSeq + 1) } };
    if (request.kind) query.kind = request.kind;
    if (request.from || request.to) query.created_at = { ...(request.from && { $gte: request.from }), ...(request.to && { $lt: request.to }) };
    const rows = await this.entries
      .find(query)
      .sort({ seq: -1 })
      .limit(request.limit + 1)
      .lean<LedgerEntry[]>();
    const more = rows.length > request.limit;
    const pageRows = more ? rows.slice(0, request.limit) : rows;

    const orderIds = [...new Set(pageRows.map((e) => e.order_id))];
    const orders = new Map<string, Pick<Order, '_id' | 'order_type' | 'card_id' | 'external_id'>>();
    if (orderIds.length > 0) {
      const found = await this.orders
        .find({ _id: { $in: orderIds }, project_id: project._id }, { order_type: 1, card_id: 1, external_id: 1 })
        .lean<Pick<Order, '_id' | 'order_type' | 'card_id' | 'external_id'>[]>();
      for (const o of found) orders.set(o._id, o);
    }
    const money = (minor: number) => formatMinor(minor, exponent);
    return {
      currency: project.currency,
      balance: money(last?.balance_after ?? 0),
      balance_seq: headSeq,
      entries: pageRows.map((e) => {
        const order = orders.get(e.order_id);
        return {
          ...ledgerEntryAmounts(e, exponent),
          order_type: order?.order_type ?? null,
          card_id: order?.card_id ?? null,
          external_id: order?.external_id ?? null,
          created_at: e.created_at.toISOString(),
        };
      }),
      next_cursor: more ? encodeSeqCursor(pageRows.at(-1)!.seq) : null,
    };
  }
}

function encodeSeqCursor(seq: number): string {
  return Buffer.from(JSON.stringify(['seq', seq])).toString('base64url');
}

function decodeSeqCursor(cursor: string): number {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && parsed[0] === 'seq' && Number.isSafeInteger(parsed[1]) && (parsed[1] as number) > 0) {
      return parsed[1] as number;
    }
  } catch {
    // fall through
  }
  throw new GatewayError('validation_error', undefined, { issues: [{ path: 'cursor', message: 'is not a cursor this endpoint returned' }] });
}
