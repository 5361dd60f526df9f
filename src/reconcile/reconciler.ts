import type { Connection, Model } from 'mongoose';
import { cardModel, type Card } from '../cards/card-model.js';
import { ledgerEntryModel, type LedgerEntry, type LedgerKind } from '../ledger/ledger-entry-model.js';
import { orderModel, TERMINAL_STATUSES, type Order } from '../orders/order-model.js';
import { refundOwed } from '../orders/refund-policy.js';
import { projectModel, type Project } from '../projects/project-model.js';
import type { CardProvider } from '../provider/card-provider.js';
import { FAULT_KINDS, type Fault, type FaultKind } from './faults.js';

/**
 * Reconciliation (contract section 5): for each project, walk its ledger chain and compare it with
 * the orders, the cards and the card provider.
 *
 * Constant memory over any history: the ledger and the orders are streamed with cursors in
 * batches, each batch is compared with what it refers to through one indexed query, and nothing is
 * kept across batches but the previous entry and counters. The list of faults is capped
 * (`maxFaults`); counts per kind are always exact.
 *
 * The run has one point in time, `as_of`. Orders touched within `settleS` seconds of it are still
 * in flight (charged but not yet stamped, refund being written) and are not compared; the chain
 * itself is append-only, so it is always checked whole.
 */

export interface ReconcileOptions {
  /** Reports an unfinished order as stuck after this long without progress. */
  stuckAfterS: number;
  /** Orders changed this recently are in flight and skipped (default 30 s). */
  settleS?: number;
  /** Only these projects (default: every project that has a document, orders or ledger entries). */
  projectIds?: string[];
  /** Compared with the cards in the store when given. */
  provider?: CardProvider;
  /** Faults listed in the report; counts go on past it. Default 1000. */
  maxFaults?: number;
  batchSize?: number;
  /** Provider calls in flight at once. */
  providerConcurrency?: number;
  now?: Date;
  onProgress?: (progress: Progress) => void;
}

export interface Progress {
  project_id: string;
  project_index: number;
  projects: number;
  phase: 'ledger' | 'orders' | 'cards';
  /** Rows of this phase done so far. */
  done: number;
}

export interface ProjectSummary {
  project_id: string;
  entries: number;
  orders: number;
  cards: number;
  /** Minor units, from the chain's last entry. */
  balance: number;
  currency: string | null;
  faults: number;
}

export interface ReconcileReport {
  ok: boolean;
  as_of: string;
  stuck_after_s: number;
  settle_s: number;
  provider_checked: boolean;
  totals: { projects: number; entries: number; orders: number; cards: number; faults: number };
  fault_counts: Partial<Record<FaultKind, number>>;
  faults: Fault[];
  /** True when more faults were found than `faults` lists. */
  faults_truncated: boolean;
  projects: ProjectSummary[];
}

type EntryRef = Pick<LedgerEntry, 'order_id' | 'kind' | 'amount' | 'seq'>;

export class Reconciler {
  private readonly ledger: Model<LedgerEntry>;
  private readonly orders: Model<Order>;
  private readonly cards: Model<Card>;
  private readonly projects: Model<Project>;

  constructor(connection: Connection) {
    this.ledger = ledgerEntryModel(connection);
    this.orders = orderModel(connection);
    this.cards = cardModel(connection);
    this.projects = projectModel(connection);
  }

  async run(options: ReconcileOptions): Promise<ReconcileReport> {
    const run = new Run(options);
    const ids = options.projectIds ?? (await this.allProjectIds());
    const known = new Map(
      (await this.projects.find({ _id: { $in: ids } }, { currency: 1 }).lean<Pick<Project, '_id' | 'currency'>[]>()).map((p) => [p._id, p.currency]),
    );
    for (const [index, projectId] of ids.entries()) {
      const summary: ProjectSummary = { project_id: projectId, entries: 0, orders: 0, cards: 0, balance: 0, currency: known.get(projectId) ?? null, faults: 0 };
      const before = run.faultTotal;
      if (!known.has(projectId)) run.fault({ kind: 'unknown_project', project_id: projectId, detail: 'no such project document' });
      const progress = (phase: Progress['phase'], done: number) =>
        options.onProgress?.({ project_id: projectId, project_index: index, projects: ids.length, phase, done });
      await this.walkLedger(run, summary, progress);
      await this.walkOrders(run, summary, progress);
      await this.walkCards(run, summary, progress);
      summary.faults = run.faultTotal - before;
      run.projects.push(summary);
    }
    return run.report();
  }

  private async allProjectIds(): Promise<string[]> {
    const [documents, fromLedger, fromOrders] = await Promise.all([
      this.projects.distinct('_id'),
      this.ledger.distinct('project_id'),
      this.orders.distinct('project_id'),
    ]);
    return [...new Set([...documents, ...fromLedger, ...fromOrders].map(String))].sort();
  }

  /** The chain rules, entry by entry, and each entry against its order. */
  private async walkLedger(run: Run, summary: ProjectSummary, progress: (phase: 'ledger', done: number) => void): Promise<void> {
    const projectId = summary.project_id;
    let previous: LedgerEntry | undefined;
    let batch: LedgerEntry[] = [];
    const cursor = this.ledger.find({ project_id: projectId }).sort({ seq: 1 }).lean<LedgerEntry[]>().cursor({ batchSize: run.batchSize });
    for await (const entry of cursor) {
      const at = { project_id: projectId, order_id: entry.order_id, seq: entry.seq };
      const expectedSeq = (previous?.seq ?? 0) + 1;
      if (entry.seq !== expectedSeq) {
        run.fault({ kind: 'chain_gap', ...at, detail: `expected seq ${expectedSeq}, found ${entry.seq}` });
      }
      const expectedBefore = previous?.balance_after ?? 0;
      if (entry.balance_before !== expectedBefore) {
        run.fault({ kind: 'chain_break', ...at, detail: `balance_before ${entry.balance_before}, previous balance_after ${expectedBefore}` });
      }
      if (entry.balance_after !== entry.balance_before + entry.amount) {
        run.fault({ kind: 'arithmetic', ...at, detail: `${entry.balance_before} + ${entry.amount} != ${entry.balance_after}` });
      }
      if (entry.balance_after < 0) run.fault({ kind: 'negative_balance', ...at, detail: `balance_after ${entry.balance_after}` });
      if (entry.kind === 'charge' ? entry.amount >= 0 : entry.amount <= 0) {
        run.fault({ kind: 'sign_mismatch', ...at, detail: `${entry.kind} of ${entry.amount}` });
      }
      if (summary.currency && entry.currency !== summary.currency) {
        run.fault({ kind: 'currency_mismatch', ...at, detail: `${entry.currency}, project in ${summary.currency}` });
      }
      previous = entry;
      summary.entries++;
      summary.balance = entry.balance_after;
      batch.push(entry);
      if (batch.length >= run.batchSize) {
        await this.entriesAgainstOrders(run, summary, batch);
        batch = [];
        progress('ledger', summary.entries);
      }
    }
    if (batch.length > 0) await this.entriesAgainstOrders(run, summary, batch);
    progress('ledger', summary.entries);
  }

  private async entriesAgainstOrders(run: Run, summary: ProjectSummary, entries: LedgerEntry[]): Promise<void> {
    const orders = await this.ordersById(summary.project_id, [...new Set(entries.map((e) => e.order_id))]);
    for (const entry of entries) {
      const at = { project_id: summary.project_id, order_id: entry.order_id, seq: entry.seq };
      const order = orders.get(entry.order_id);
      if (!order) {
        run.fault({ kind: 'orphan_entry', ...at, detail: `${entry.kind} of ${entry.amount} for an order this project does not have` });
        continue;
      }
      if (run.inFlight(order)) continue;
      const snapshotsMatch = order.balance_before === entry.balance_before && order.balance_after === entry.balance_after;
      if (entry.kind === 'charge') {
        if (order.order_type !== 'card_issue' || order.rejected) {
          run.fault({ kind: 'unexpected_entry', ...at, detail: `charge on a ${order.rejected ? 'rejected ' : ''}${order.order_type} order` });
        } else if (entry.amount !== -(order.data.total_charge ?? NaN)) {
          run.fault({ kind: 'charge_mismatch', ...at, detail: `charged ${entry.amount}, order total_charge ${order.data.total_charge}` });
        } else if (!snapshotsMatch) {
          run.fault({
            kind: 'charge_mismatch',
            ...at,
            detail: `order balances ${order.balance_before}->${order.balance_after}, entry ${entry.balance_before}->${entry.balance_after}`,
          });
        }
      } else if (entry.kind === 'deposit') {
        if (order.order_type !== 'balance_deposit') {
          run.fault({ kind: 'unexpected_entry', ...at, detail: `deposit on a ${order.order_type} order` });
        } else if (entry.amount !== order.data.amount || !snapshotsMatch) {
          run.fault({
            kind: 'deposit_mismatch',
            ...at,
            detail: `deposited ${entry.amount} (${entry.balance_before}->${entry.balance_after}), order ${order.data.amount} (${order.balance_before}->${order.balance_after})`,
          });
        }
      } else if (order.order_type !== 'card_issue') {
        run.fault({ kind: 'unexpected_entry', ...at, detail: `refund on a ${order.order_type} order` });
      }
      // Refund amounts are checked per order (walkOrders), where every refund of the order is seen.
    }
  }

  /** Each order against all of its ledger entries: counts and amounts, stuck orders, cards. */
  private async walkOrders(run: Run, summary: ProjectSummary, progress: (phase: 'orders', done: number) => void): Promise<void> {
    const cursor = this.orders
      .find({ project_id: summary.project_id, created_at: { $lte: run.asOf } })
      .sort({ created_at: -1, _id: -1 })
      .lean<Order[]>()
      .cursor({ batchSize: run.batchSize });
    let batch: Order[] = [];
    for await (const doc of cursor) {
      batch.push(doc);
      if (batch.length >= run.batchSize) {
        await this.ordersAgainstEntries(run, summary, batch);
        batch = [];
        progress('orders', summary.orders);
      }
    }
    if (batch.length > 0) await this.ordersAgainstEntries(run, summary, batch);
    progress('orders', summary.orders);
  }

  private async ordersAgainstEntries(run: Run, summary: ProjectSummary, orders: Order[]): Promise<void> {
    summary.orders += orders.length;
    const projectId = summary.project_id;
    const settled = orders.filter((o) => !run.inFlight(o));
    const ids = settled.map((o) => o._id);
    const entries = new Map<string, EntryRef[]>();
    for (const e of await this.ledger
      .find({ project_id: projectId, order_id: { $in: ids } }, { order_id: 1, kind: 1, amount: 1, seq: 1 })
      .lean<EntryRef[]>()) {
      entries.set(e.order_id, [...(entries.get(e.order_id) ?? []), e]);
    }
    const completedCardOrders = settled.filter((o) => o.order_type === 'card_issue' && o.status === 'completed').map((o) => o._id);
    const withCard = new Set(
      completedCardOrders.length === 0
        ? []
        : (await this.cards.find({ project_id: projectId, order_id: { $in: completedCardOrders } }, { order_id: 1 }).lean<Pick<Card, 'order_id'>[]>()).map(
            (c) => c.order_id,
          ),
    );

    for (const order of settled) {
      const at = { project_id: projectId, order_id: order._id };
      const mine = entries.get(order._id) ?? [];
      const of = (kind: LedgerKind) => mine.filter((e) => e.kind === kind);
      const seqs = (list: EntryRef[]) => list.map((e) => e.seq).join(', ');

      if (!TERMINAL_STATUSES.includes(order.status) && order.updated_at.getTime() < run.stuckBefore) {
        const minutes = Math.floor((run.asOf.getTime() - order.updated_at.getTime()) / 60_000);
        run.fault({ kind: 'stuck_order', ...at, detail: `${order.status}${order.issue_status ? `/${order.issue_status}` : ''} for ${minutes} min` });
      }

      if (order.order_type === 'balance_deposit') {
        const deposits = of('deposit');
        if (order.status === 'completed' && deposits.length === 0) {
          run.fault({ kind: 'missing_deposit', ...at, detail: `deposit of ${order.data.amount} not in the ledger` });
        }
        if (deposits.length > 1) run.fault({ kind: 'duplicate_entry', ...at, detail: `deposited ${deposits.length} times (seq ${seqs(deposits)})` });
        continue;
      }

      const charges = of('charge');
      const refunds = of('refund');
      if (order.rejected) {
        if (mine.length > 0) run.fault({ kind: 'unexpected_entry', ...at, detail: `rejected order has ledger entries (seq ${seqs(mine)})` });
        continue;
      }
      const charged = order.balance_after !== undefined;
      if (charged && charges.length === 0) {
        run.fault({ kind: 'missing_charge', ...at, detail: `order records a charge of ${order.data.total_charge} that is not in the ledger` });
      }
      if (!charged && charges.length > 0) {
        run.fault({ kind: 'charge_mismatch', ...at, detail: `charged (seq ${seqs(charges)}) but the order records no balance snapshots` });
      }
      if (charges.length > 1) run.fault({ kind: 'duplicate_entry', ...at, detail: `charged ${charges.length} times (seq ${seqs(charges)})` });

      const owed = refundOwed(order);
      const refunded = refunds.reduce((sum, e) => sum + e.amount, 0);
      if (refunds.length > 1) {
        run.fault({ kind: 'duplicate_entry', ...at, detail: `refunded ${refunds.length} times (seq ${seqs(refunds)}), total ${refunded}, owed ${owed}` });
      } else if (owed > 0 && refunds.length === 0) {
        run.fault({ kind: 'missing_refund', ...at, detail: `owed ${owed}, refunded nothing` });
      } else if (owed === 0 && refunds.length > 0) {
        run.fault({ kind: 'unowed_refund', ...at, detail: `refunded ${refunded} (seq ${seqs(refunds)}), owed nothing` });
      } else if (refunds.length === 1 && refunded !== owed) {
        run.fault({ kind: 'wrong_refund', ...at, seq: refunds[0]!.seq, detail: `refunded ${refunded}, owed ${owed}` });
      }

      if (order.status === 'completed' && !withCard.has(order._id)) {
        run.fault({ kind: 'card_missing', ...at, detail: 'completed without a card in the store' });
      }
    }
  }

  /** Cards in the store against their orders and, when a provider is given, against the provider. */
  private async walkCards(run: Run, summary: ProjectSummary, progress: (phase: 'cards', done: number) => void): Promise<void> {
    const cursor = this.cards
      .find({ project_id: summary.project_id, created_at: { $lte: run.asOf } }, { secrets: 0 })
      .sort({ order_id: 1 })
      .lean<Card[]>()
      .cursor({ batchSize: run.batchSize });
    let batch: Card[] = [];
    for await (const doc of cursor) {
      batch.push(doc);
      if (batch.length >= run.batchSize) {
        await this.cardsAgainstProvider(run, summary, batch);
        batch = [];
        progress('cards', summary.cards);
      }
    }
    if (batch.length > 0) await this.cardsAgainstProvider(run, summary, batch);
    progress('cards', summary.cards);
  }

  private async cardsAgainstProvider(run: Run, summary: ProjectSummary, cards: Card[]): Promise<void> {
    summary.cards += cards.length;
    const orders = await this.ordersById(summary.project_id, cards.map((c) => c.order_id));
    for (const card of cards) {
      if (!orders.has(card.order_id)) {
        run.fault({ kind: 'orphan_card', project_id: summary.project_id, order_id: card.order_id, card_id: card._id, detail: 'no such order' });
      }
    }
    const provider = run.provider;
    if (!provider) return;
    await eachLimited(cards, run.providerConcurrency, async (card) => {
      const at = { project_id: summary.project_id, order_id: card.order_id, card_id: card._id };
      try {
        const remote = await provider.getCard(card.provider_card_id);
        const differences: string[] = [];
        if (remote.status !== card.status) differences.push(`status ${card.status}, provider ${remote.status}`);
        if (remote.maskedPan !== card.masked_pan) differences.push(`masked number ${card.masked_pan}, provider ${remote.maskedPan}`);
        if (differences.length > 0) run.fault({ kind: 'card_mismatch', ...at, detail: differences.join('; ') });
      } catch (err) {
        const reason = (err as { failure?: unknown }).failure;
        run.fault({ kind: 'card_unknown_to_provider', ...at, detail: `provider answered ${typeof reason === 'string' ? reason : 'with an error'}` });
      }
    });
  }

  private async ordersById(projectId: string, ids: string[]): Promise<Map<string, Order>> {
    const rows = await this.orders.find({ _id: { $in: ids }, project_id: projectId }).lean<Order[]>();
    return new Map(rows.map((o) => [o._id, o]));
  }
}

/** The state of one run: its clock, its limits, and the faults found so far. */
class Run {
  readonly asOf: Date;
  readonly stuckBefore: number;
  readonly settledBefore: number;
  readonly settleS: number;
  readonly stuckAfterS: number;
  readonly batchSize: number;
  readonly providerConcurrency: number;
  readonly provider: CardProvider | undefined;
  readonly projects: ProjectSummary[] = [];
  private readonly maxFaults: number;
  private readonly faults: Fault[] = [];
  private readonly counts: Partial<Record<FaultKind, number>> = {};
  faultTotal = 0;

  constructor(options: ReconcileOptions) {
    this.asOf = options.now ?? new Date();
    this.stuckAfterS = options.stuckAfterS;
    this.settleS = options.settleS ?? 30;
    this.stuckBefore = this.asOf.getTime() - this.stuckAfterS * 1000;
    this.settledBefore = this.asOf.getTime() - this.settleS * 1000;
    this.batchSize = options.batchSize ?? 500;
    this.providerConcurrency = options.providerConcurrency ?? 8;
    this.provider = options.provider;
    this.maxFaults = options.maxFaults ?? 1000;
  }

  /** Changed within the settle window: its ledger entries may still be on their way. */
  inFlight(order: Order): boolean {
    return order.updated_at.getTime() > this.settledBefore;
  }

  fault(fault: Fault): void {
    this.faultTotal++;
    this.counts[fault.kind] = (this.counts[fault.kind] ?? 0) + 1;
    if (this.faults.length < this.maxFaults) this.faults.push(fault);
  }

  report(): ReconcileReport {
    const sum = (key: 'entries' | 'orders' | 'cards') => this.projects.reduce((n, p) => n + p[key], 0);
    return {
      ok: this.faultTotal === 0,
      as_of: this.asOf.toISOString(),
      stuck_after_s: this.stuckAfterS,
      settle_s: this.settleS,
      provider_checked: this.provider !== undefined,
      totals: { projects: this.projects.length, entries: sum('entries'), orders: sum('orders'), cards: sum('cards'), faults: this.faultTotal },
      fault_counts: Object.fromEntries(Object.keys(FAULT_KINDS).filter((k) => this.counts[k as FaultKind]).map((k) => [k, this.counts[k as FaultKind]])),
      faults: this.faults,
      faults_truncated: this.faultTotal > this.faults.length,
      projects: this.projects,
    };
  }
}

async function eachLimited<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++]!);
  });
  await Promise.all(workers);
}
