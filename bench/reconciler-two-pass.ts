import type { Connection, Model } from 'mongoose';
import { cardModel, type Card } from '../src/cards/card-model.js';
import { ledgerEntryModel, type LedgerEntry, type LedgerKind } from '../src/ledger/ledger-entry-model.js';
import { orderModel, TERMINAL_STATUSES, type Order } from '../src/orders/order-model.js';
import { refundOwed } from '../src/orders/refund-policy.js';
import { projectModel, type Project } from '../src/projects/project-model.js';
import type { CardProvider } from '../src/provider/card-provider.js';
import { checkProviderInventory } from '../src/reconcile/provider-inventory.js';
import { FAULT_KINDS, type Fault, type FaultKind } from '../src/reconcile/faults.js';
import { distinctStrings } from '../src/store/index-walk.js';
import type { ProjectSummary, Progress, ReconcileOptions, ReconcileReport } from '../src/reconcile/reconciler.js';

/**
 * Bench only (bench/reconcile-compare.ts): the reconciler as it was before it read each ledger
 * entry once, kept to measure the two side by side on the same store. It walks the chain in seq
 * order, then reads every entry again beside its order (a merge join of orders, entries and cards).
 */

type EntryRef = Pick<LedgerEntry, 'order_id' | 'kind' | 'amount' | 'seq' | 'balance_before' | 'balance_after' | 'created_at'>;

export class TwoPassReconciler {
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
      summary.faults = run.faultTotal - before;
      run.projects.push(summary);
    }
    if (options.provider && options.providerInventory) await checkProviderInventory({ cards: this.cards, orders: this.orders }, options.provider, run, options.projectIds);
    return run.report();
  }

  private async allProjectIds(): Promise<string[]> {
    const [documents, fromLedger, fromOrders] = await Promise.all([
      this.projects.distinct('_id'),
      distinctStrings(this.ledger, 'project_id'),
      distinctStrings(this.orders, 'project_id'),
    ]);
    return [...new Set([...documents, ...fromLedger, ...fromOrders].map(String))].sort();
  }

  /** The chain rules, entry by entry, in seq order. */
  private async walkLedger(run: Run, summary: ProjectSummary, progress: (phase: 'ledger', done: number) => void): Promise<void> {
    const projectId = summary.project_id;
    let previous: LedgerEntry | undefined;
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
      if (summary.entries % run.batchSize === 0) progress('ledger', summary.entries);
    }
    progress('ledger', summary.entries);
  }

  /**
   * Orders against their ledger entries and cards, as a merge join: the project's orders sorted by
   * _id, its entries sorted by order_id and its cards sorted by order_id are walked side by side,
   * so each comparison costs nothing extra and memory holds one order's rows at a time. (Looking
   * rows up by `$in` per batch would be a full scan per batch on FerretDB.) An entry or card that
   * the walk passes without meeting its order has none.
   */
  private async walkOrders(run: Run, summary: ProjectSummary, progress: (phase: 'orders', done: number) => void): Promise<void> {
    const project = { project_id: summary.project_id };
    const orders = this.orders.find(project).sort({ _id: 1 }).lean<Order[]>().cursor({ batchSize: run.batchSize });
    const entries = new Peekable(
      this.ledger.find(project, { order_id: 1, kind: 1, amount: 1, seq: 1, balance_before: 1, balance_after: 1, created_at: 1 })
        .sort({ order_id: 1, kind: 1 })
        .lean<EntryRef[]>()
        .cursor({ batchSize: run.batchSize }),
    );
    const cards = new Peekable(
      this.cards.find(project, { secrets: 0 }).sort({ order_id: 1 }).lean<Card[]>().cursor({ batchSize: run.batchSize }),
    );
    const providerChecks = new CardChecks(run, summary);

    const orphanEntriesBefore = async (orderId: string | undefined) => {
      for (let e = await entries.peek(); e && (orderId === undefined || e.order_id < orderId); e = await entries.peek()) {
        await entries.next();
        if (e.created_at.getTime() > run.settledBefore) continue; // its order may be on its way
        run.fault({ kind: 'orphan_entry', ...project, order_id: e.order_id, seq: e.seq, detail: `${e.kind} of ${e.amount} for an order this project does not have` });
      }
    };
    const orphanCardsBefore = async (orderId: string | undefined) => {
      for (let c = await cards.peek(); c && (orderId === undefined || c.order_id < orderId); c = await cards.peek()) {
        await cards.next();
        summary.cards++;
        run.fault({ kind: 'orphan_card', ...project, order_id: c.order_id, card_id: c._id, detail: 'no such order' });
        await providerChecks.add(c);
      }
    };

    for await (const order of orders) {
      await orphanEntriesBefore(order._id);
      await orphanCardsBefore(order._id);
      const mine: EntryRef[] = [];
      while ((await entries.peek())?.order_id === order._id) mine.push((await entries.next())!);
      let hasCard = false;
      while ((await cards.peek())?.order_id === order._id) {
        const card = (await cards.next())!;
        summary.cards++;
        hasCard = true;
        await providerChecks.add(card);
      }
      summary.orders++;
      if (!run.inFlight(order)) this.checkOrder(run, order, mine, hasCard);
      if (summary.orders % run.batchSize === 0) progress('orders', summary.orders);
    }
    await orphanEntriesBefore(undefined);
    await orphanCardsBefore(undefined);
    await providerChecks.flush();
    progress('orders', summary.orders);
  }

  /** One settled order against all of its ledger entries (and whether it has a card). */
  private checkOrder(run: Run, order: Order, mine: EntryRef[], hasCard: boolean): void {
    const at = { project_id: order.project_id, order_id: order._id };
    const of = (kind: LedgerKind) => mine.filter((e) => e.kind === kind);
    const seqs = (list: EntryRef[]) => list.map((e) => e.seq).join(', ');
    const snapshotsMatch = (e: EntryRef) => order.balance_before === e.balance_before && order.balance_after === e.balance_after;
    const charges = of('charge');
    const refunds = of('refund');
    const deposits = of('deposit');

    if (!TERMINAL_STATUSES.includes(order.status) && order.updated_at.getTime() < run.stuckBefore) {
      const minutes = Math.floor((run.asOf.getTime() - order.updated_at.getTime()) / 60_000);
      run.fault({ kind: 'stuck_order', ...at, detail: `${order.status}${order.issue_status ? `/${order.issue_status}` : ''} for ${minutes} min` });
    }

    if (order.order_type === 'balance_deposit') {
      const foreign = [...charges, ...refunds];
      if (foreign.length > 0) run.fault({ kind: 'unexpected_entry', ...at, detail: `charge or refund on a deposit order (seq ${seqs(foreign)})` });
      if (order.status === 'completed' && deposits.length === 0) {
        run.fault({ kind: 'missing_deposit', ...at, detail: `deposit of ${order.data.amount} not in the ledger` });
      }
      if (deposits.length > 1) run.fault({ kind: 'duplicate_entry', ...at, detail: `deposited ${deposits.length} times (seq ${seqs(deposits)})` });
      const [deposit] = deposits;
      if (deposit && (deposit.amount !== order.data.amount || !snapshotsMatch(deposit))) {
        run.fault({
          kind: 'deposit_mismatch',
          ...at,
          seq: deposit.seq,
          detail: `deposited ${deposit.amount} (${deposit.balance_before}->${deposit.balance_after}), order ${order.data.amount} (${order.balance_before}->${order.balance_after})`,
        });
      }
      return;
    }

    if (deposits.length > 0) run.fault({ kind: 'unexpected_entry', ...at, detail: `deposit on a card order (seq ${seqs(deposits)})` });
    if (order.rejected) {
      const any = [...charges, ...refunds];
      if (any.length > 0) run.fault({ kind: 'unexpected_entry', ...at, detail: `rejected order has ledger entries (seq ${seqs(any)})` });
      return;
    }

    // An order is charged once it records its balance snapshots; one with nothing to charge (free
    // product, no initial balance) records them without a ledger entry.
    const total = order.data.total_charge ?? 0;
    const charged = order.balance_after !== undefined && total > 0;
    const [charge] = charges;
    if (charges.length > 1) run.fault({ kind: 'duplicate_entry', ...at, detail: `charged ${charges.length} times (seq ${seqs(charges)})` });
    if (charged && !charge) {
      run.fault({ kind: 'missing_charge', ...at, detail: `order records a charge of ${total} that is not in the ledger` });
    } else if (charge && total <= 0) {
      run.fault({ kind: 'unexpected_entry', ...at, seq: charge.seq, detail: `charge of ${charge.amount} on an order with nothing to charge` });
    } else if (!charged && charge) {
      run.fault({ kind: 'charge_mismatch', ...at, seq: charge.seq, detail: 'charged, but the order records no balance snapshots' });
    } else if (charge && charge.amount !== -(order.data.total_charge ?? NaN)) {
      run.fault({ kind: 'charge_mismatch', ...at, seq: charge.seq, detail: `charged ${charge.amount}, order total_charge ${order.data.total_charge}` });
    } else if (charge && !snapshotsMatch(charge)) {
      run.fault({
        kind: 'charge_mismatch',
        ...at,
        seq: charge.seq,
        detail: `order balances ${order.balance_before}->${order.balance_after}, entry ${charge.balance_before}->${charge.balance_after}`,
      });
    }

    const owed = refundOwed(order);
    const refunded = refunds.reduce((sum, e) => sum + e.amount, 0);
    if (refunds.length > 1) {
      run.fault({ kind: 'duplicate_entry', ...at, detail: `refunded ${refunds.length} times (seq ${seqs(refunds)}), total ${refunded}, owed ${owed}` });
    } else if (owed > 0 && refunds.length === 0) {
      run.fault({ kind: 'missing_refund', ...at, detail: `owed ${owed}, refunded nothing` });
    } else if (owed === 0 && refunds.length > 0) {
      run.fault({ kind: 'unowed_refund', ...at, seq: refunds[0]!.seq, detail: `refunded ${refunded}, owed nothing` });
    } else if (refunds.length === 1 && refunded !== owed) {
      run.fault({ kind: 'wrong_refund', ...at, seq: refunds[0]!.seq, detail: `refunded ${refunded}, owed ${owed}` });
    }

    // Card operations act on the card of another order (their card_id), they have none of their own.
    if (order.order_type === 'card_issue' && order.status === 'completed' && !hasCard) run.fault({ kind: 'card_missing', ...at, detail: 'completed without a card in the store' });
  }
}

/** A cursor that can look at its next row without taking it. */
class Peekable<T> {
  private readonly iterator: AsyncIterator<T>;
  private buffered: IteratorResult<T> | undefined;

  constructor(source: AsyncIterable<T>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  async peek(): Promise<T | undefined> {
    this.buffered ??= await this.iterator.next();
    return this.buffered.done ? undefined : this.buffered.value;
  }

  async next(): Promise<T | undefined> {
    const value = await this.peek();
    this.buffered = undefined;
    return value;
  }
}

/** Cards asked of the provider a window at a time, several calls in flight. */
class CardChecks {
  private pending: Card[] = [];

  constructor(
    private readonly run: Run,
    private readonly summary: ProjectSummary,
  ) {}

  async add(card: Card): Promise<void> {
    if (!this.run.provider) return;
    this.pending.push(card);
    if (this.pending.length >= this.run.providerConcurrency * 4) await this.flush();
  }

  async flush(): Promise<void> {
    const provider = this.run.provider;
    const cards = this.pending;
    this.pending = [];
    if (!provider) return;
    await eachLimited(cards, this.run.providerConcurrency, async (card) => {
      const at = { project_id: this.summary.project_id, order_id: card.order_id, card_id: card._id };
      try {
        const remote = await provider.getCard(card.provider_card_id);
        const differences: string[] = [];
        if (remote.status !== card.status) differences.push(`status ${card.status}, provider ${remote.status}`);
        if (remote.maskedPan !== card.masked_pan) differences.push(`masked number ${card.masked_pan}, provider ${remote.maskedPan}`);
        if (differences.length > 0) this.run.fault({ kind: 'card_mismatch', ...at, detail: differences.join('; ') });
      } catch (err) {
        const reason = (err as { failure?: unknown }).failure;
        this.run.fault({ kind: 'card_unknown_to_provider', ...at, detail: `provider answered ${typeof reason === 'string' ? reason : 'with an error'}` });
      }
    });
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
