import { Schema, type Connection, type Model } from 'mongoose';

/**
 * One entry of a project's master-balance chain. The chain is the balance: there is no balance
 * document to update. Entry n+1's balance_before equals entry n's balance_after.
 */
/** `withdrawal`: funds taken off a card and credited back to the master balance (positive). */
export const LEDGER_KINDS = ['deposit', 'charge', 'refund', 'withdrawal'] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

export interface LedgerEntry {
  /** ledgerEntryId(project_id, seq); entries stored before ids were derived have an ObjectId. */
  _id: string;
  project_id: string;
  /** 1, 2, 3, ... without gaps; unique per project, so two writers cannot both append seq n. */
  seq: number;
  kind: LedgerKind;
  /** Signed, minor units: deposits, refunds and withdrawals positive, charges negative. */
  amount: number;
  balance_before: number;
  balance_after: number;
  currency: string;
  /** Every entry belongs to an order (deposits to a balance_deposit order). */
  order_id: string;
  created_at: Date;
}

const ledgerEntrySchema = new Schema<LedgerEntry>(
  {
    _id: { type: String },
    project_id: { type: String, required: true },
    seq: { type: Number, required: true },
    kind: { type: String, enum: LEDGER_KINDS, required: true },
    amount: { type: Number, required: true },
    balance_before: { type: Number, required: true },
    balance_after: { type: Number, required: true },
    currency: { type: String, required: true },
    order_id: { type: String, required: true },
    created_at: { type: Date, required: true, default: () => new Date() },
  },
  { versionKey: false },
);
// The chain: one entry per (project, seq).
ledgerEntrySchema.index({ project_id: 1, seq: 1 }, { unique: true });
// An order is charged, refunded or deposited at most once. project_id leads so the index is
// allowed on a collection sharded by project_id.
ledgerEntrySchema.index({ project_id: 1, order_id: 1, kind: 1 }, { unique: true });
// The partner's statement filtered by kind, newest first (src/partner-ops/statement.ts).
ledgerEntrySchema.index({ project_id: 1, kind: 1, seq: -1 });

export function ledgerEntryModel(connection: Connection): Model<LedgerEntry> {
  return (
    (connection.models.LedgerEntry as Model<LedgerEntry> | undefined) ??
    connection.model<LedgerEntry>('LedgerEntry', ledgerEntrySchema, 'ledger_entries')
  );
}

/** Entry n of a project's chain is stored under this `_id`, so the chain is walked by `_id`. */
export function ledgerEntryId(projectId: string, seq: number): string {
  return `${projectId}:${seq}`;
}

/**
 * A recent seq of each project's chain, so a process starting cold walks the last few entries
 * instead of searching the whole collection. Only a hint: the chain itself is the truth.
 */
export interface LedgerHead {
  _id: string; // project_id
  seq: number;
  updated_at: Date;
}

const ledgerHeadSchema = new Schema<LedgerHead>(
  {
    _id: { type: String },
    seq: { type: Number, required: true },
    updated_at: { type: Date, required: true },
  },
  { versionKey: false },
);

export function ledgerHeadModel(connection: Connection): Model<LedgerHead> {
  return (
    (connection.models.LedgerHead as Model<LedgerHead> | undefined) ??
    connection.model<LedgerHead>('LedgerHead', ledgerHeadSchema, 'ledger_heads')
  );
}
