import { randomUUID } from 'node:crypto';
import { Schema, type Connection, type Model } from 'mongoose';
import { cardModel, type Card } from '../cards/card-model.js';
import { ledgerEntryModel, type LedgerEntry } from '../ledger/ledger-entry-model.js';
import { ledgerEntryAmounts, type LedgerEntryAmounts } from '../ledger/ledger-entry-view.js';
import { orderModel, type Order } from '../orders/order-model.js';
import type { ReconcileReport } from '../reconcile/reconciler.js';
import { orderClaimModel, type OrderClaim } from '../workflow/order-claims.js';
import { notFound } from '../back-office/validate.js';
import { exponentOf } from '../back-office/order-lookup.js';

/** One event of an order's story, from what the store records (order fields, claims, ledger). */
export interface TimelineEvent {
  at: Date;
  what: string;
  detail: string;
}

export interface LedgerRow extends LedgerEntryAmounts {
  created_at: Date;
}

export interface OrderStory {
  order: Order;
  claims: OrderClaim[];
  ledger: LedgerRow[];
  /** Masked PAN and ids only: the card's encrypted secrets never leave the store here. */
  card: Pick<Card, '_id' | 'masked_pan' | 'status' | 'provider_card_id' | 'currency' | 'created_at'> | null;
  timeline: TimelineEvent[];
}

export interface StoredReport {
  _id: string;
  staff: string;
  created_at: Date;
  report: ReconcileReport;
}

const reportSchema = new Schema<StoredReport>(
  {
    _id: { type: String },
    staff: { type: String, required: true },
    created_at: { type: Date, required: true },
    report: { type: Schema.Types.Mixed, required: true },
  },
  { versionKey: false, minimize: false },
);
reportSchema.index({ created_at: -1 });

export function consoleReportModel(connection: Connection): Model<StoredReport> {
  return (
    (connection.models.ConsoleReport as Model<StoredReport> | undefined) ??
    connection.model<StoredReport>('ConsoleReport', reportSchema, 'console_reports')
  );
}

/** Reads for the console's pages that the back-office services do not already answer. */
export class ConsoleReads {
  private readonly orders: Model<Order>;
  private readonly claims: Model<OrderClaim>;
  private readonly ledger: Model<LedgerEntry>;
  private readonly cards: Model<Card>;
  private readonly reports: Model<StoredReport>;

  constructor(connection: Connection) {
    this.orders = orderModel(connection);
    this.claims = orderClaimModel(connection);
    this.ledger = ledgerEntryModel(connection);
    this.cards = cardModel(connection);
    this.reports = consoleReportModel(connection);
  }

  async orderStory(orderId: string): Promise<OrderStory> {
    const order = await this.orders.findById(orderId).lean<Order>();
    if (!order) throw notFound('Order');
    const [claims, entries, card] = await Promise.all([
      this.claims.find({ order_id: orderId }).sort({ epoch: 1 }).lean<OrderClaim[]>(),
      this.ledger.find({ project_id: order.project_id, order_id: orderId }).sort({ seq: 1 }).lean<LedgerEntry[]>(),
      this.cards
        .findOne({ project_id: order.project_id, order_id: orderId }, { _id: 1, masked_pan: 1, status: 1, provider_card_id: 1, currency: 1, created_at: 1 })
        .lean<OrderStory['card']>(),
    ]);
    const ledger = entries.map(ledgerRow);
    return { order, claims, ledger, card, timeline: timeline(order, claims, ledger, card) };
  }

  /** A project's deposits, newest first. */
  async deposits(projectId: string, limit = 50): Promise<LedgerRow[]> {
    const entries = await this.ledger.find({ project_id: projectId, kind: 'deposit' }).sort({ seq: -1 }).limit(limit).lean<LedgerEntry[]>();
    return entries.map(ledgerRow);
  }

  async saveReport(staff: string, report: ReconcileReport): Promise<string> {
    const id = `rec_${randomUUID()}`;
    await this.reports.collection.insertOne({ _id: id, staff, created_at: new Date(), report } satisfies StoredReport as never);
    return id;
  }

  async report(id: string): Promise<StoredReport> {
    const stored = await this.reports.findById(id).lean<StoredReport>();
    if (!stored) throw notFound('Report');
    return stored;
  }

  async recentReports(limit = 20): Promise<Omit<StoredReport, 'report'>[]> {
    return this.reports.find({}, { report: 0 }).sort({ created_at: -1 }).limit(limit).lean<Omit<StoredReport, 'report'>[]>();
  }
}

function ledgerRow(e: LedgerEntry): LedgerRow {
  return { ...ledgerEntryAmounts(e, exponentOf(e.currency)), created_at: e.created_at };
}

function timeline(order: Order, claims: OrderClaim[], ledger: LedgerRow[], card: OrderStory['card']): TimelineEvent[] {
  const events: TimelineEvent[] = [{ at: order.created_at, what: 'created', detail: `${order.order_type} accepted${order.rejected ? ' and refused by a business rule' : ''}` }];
  for (const c of claims) events.push({ at: c.created_at, what: `claimed (epoch ${c.epoch})`, detail: `worker ${c.owner}, lease until ${c.expires_at.toISOString()}` });
  for (const e of ledger) events.push({ at: e.created_at, what: `ledger ${e.kind}`, detail: `${e.amount} ${e.currency}: balance ${e.balance_before} → ${e.balance_after}` });
  if (card) events.push({ at: card.created_at, what: 'card stored', detail: `${card.masked_pan} (provider ${card.provider_card_id})` });
  if (order.next_attempt_at && !order.completed_at && !order.failed_at) {
    events.push({ at: order.next_attempt_at, what: 'next attempt due', detail: `step ${order.issue_status ?? order.status}, ${order.attempts} attempt(s) so far` });
  }
  if (order.completed_at) events.push({ at: order.completed_at, what: 'completed', detail: `issue_status ${order.issue_status ?? '—'}` });
  if (order.failed_at) {
    events.push({ at: order.failed_at, what: 'failed', detail: `${order.last_error_slug ?? 'no slug'} at ${order.issue_status ?? '—'} after ${order.attempts} attempt(s)` });
  }
  return events.sort((a, b) => a.at.getTime() - b.at.getTime());
}
