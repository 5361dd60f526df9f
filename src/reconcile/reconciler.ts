import type { Connection, Model } from 'mongoose';
import { cardModel, type Card } from '../cards/card-model.js';
import { ledgerEntryModel, type LedgerEntry, type LedgerKind } from '../ledger/ledger-entry-model.js';
import { orderModel, TERMINAL_STATUSES, type Order } from '../orders/order-model.js';
import { refundOwed } from '../orders/refund-policy.js';
import { projectModel, type Project } from '../projects/project-model.js';
import type { CardProvider } from '../provider/card-provider.js';
import { ChainFingerprint } from './chain-fingerprint.js';
import { checkProviderInventory } from './provider-inventory.js';
import { FAULT_KINDS, type Fault, type FaultKind } from './faults.js';
import { distinctStrings } from '../store/index-walk.js';

/**
 * Reconciliation (contract section 5): for each project, walk its ledger chain and compare it with
 * the orders, the cards and the card provider.
 *
 * Each ledger entry is read once (the store's cost is per document returned): orders, entries and
 * cards are merge-joined by order id from three sorted cursors (see walkProject), keeping one
 * order's rows at a time, and each entry is checked on its own there and added to the chain's
 * fingerprint (chain-fingerprint.ts). Only a chain the fingerprint finds broken is read again, in
 * seq order, to name its gaps and breaks. Each cursor fetches only the fields the checks use.
 * Constant memory over any history. The list of faults is capped (`maxFaults`); counts per kind
 * are always exact.
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
  /** Also list the provider's cards and report the live ones the gateway does not hold (provider-inventory.ts). */
  providerInventory?: boolean;
  /** Faults listed in the report; counts go on past it. Default 1000. */
  maxFaults?: number;
  /** Documents per store round trip of each cursor. Default 2000 (bench/reconcile-compare.ts: fewer round trips, less store CPU per entry than 500). */
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
  /** ledger: entries read beside their orders; orders: orders read; chain: a broken chain re-read in seq order. */
  phase: 'ledger' | 'orders' | 'chain';
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

/**
 * What each cursor fetches: the fields the checks read, nothing more (smaller documents to encode,
 * send and decode; the cards' secrets never leave the store). Exported for the plan test.
 */
export const RECONCILE_FIELDS = {
  entries: { _id: 0, order_id: 1, kind: 1, amount: 1, seq: 1, balance_before: 1, balance_after: 1, currency: 1, created_at: 1 },
  chain: { _id: 0, order_id: 1, seq: 1, balance_before: 1, balance_after: 1 },
  // All of `data` (a few numbers): the store projects in Go after decoding, and its dotted paths cost more there.
  orders: { order_type: 1, status: 1, issue_status: 1, rejected: 1, balance_before: 1, balance_after: 1, updated_at: 1, data: 1 },
  cards: { order_id: 1, provider_card_id: 1, status: 1, masked_pan: 1 },
} as const;
const { entries: ENTRY_FIELDS, chain: CHAIN_FIELDS, orders: ORDER_FIELDS, cards: CARD_FIELDS } = RECONCILE_FIELDS;

type EntryRef = Pick<LedgerEntry, 'order_id' | 'kind' | 'amount' | 'seq' | 'balance_before' | 'balance_after' | 'currency' | 'created_at'>;
type ChainRef = Pick<LedgerEntry, 'order_id' | 'seq' | 'balance_before' | 'balance_after'>;
type OrderRef = Pick<Order, '_id' | 'order_type' | 'status' | 'issue_status' | 'rejected' | 'balance_before' | 'balance_after' | 'updated_at' | 'data'>;
type CardRef = Pick<Card, '_id' | 'order_id' | 'provider_card_id' | 'status' | 'masked_pan'>;

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
      const chain = await this.walkProject(run, summary, progress);
      if (chain.intact()) summary.balance = chain.headBalance;
      else await this.walkChain(run, summary, progress);
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

  /** The rules each entry must keep on its own, whatever its place in the chain. */
  private checkEntry(run: Run, summary: ProjectSummary, entry: EntryRef): void {
    const at = { project_id: summary.project_id, order_id: entry.order_id, seq: entry.seq };
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
  }

  /**
   * A chain the fingerprint found broken, walked in seq order to name each gap and break. Entries
   * appended during the pass can make the pass see a chain with a hole in it (the order-id cursor
   * had passed some new entries' place, not others'); this walk then reads a whole prefix and names
   * nothing.
   */
  private async walkChain(run: Run, summary: ProjectSummary, progress: (phase: 'chain', done: number) => void): Promise<void> {
    const projectId = summary.project_id;
    let previous: ChainRef | undefined;
    let done = 0;
    const cursor = this.ledger.find({ project_id: projectId }, CHAIN_FIELDS).sort({ seq: 1 }).lean<ChainRef[]>().cursor({ batchSize: run.batchSize });
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
      previous = entry;
      summary.balance = entry.balance_after;
      if (++done % run.batchSize === 0) progress('chain', done);
    }
    progress('chain', done);
  }

  /**
   * The project in one pass, as a merge join: its orders sorted by _id, its entries sorted by
   * order_id and its cards sorted by order_id are walked side by side, so each comparison costs
   * nothing extra and memory holds one order's rows at a time. (Looking rows up by `$in` per batch
   * would be a full scan per batch on FerretDB.) An entry or card that the walk passes without
   * meeting its order has none. Every entry, orphan or not, is checked on its own and added to the
   * chain's fingerprint, which the caller then asks whether the chain is whole.
   */
  private async walkProject(run: Run, summary: ProjectSummary, progress: (phase: 'ledger' | 'orders', done: number) => void): Promise<ChainFingerprint> {
    const project = { project_id: summary.project_id };
    const chain = new ChainFingerprint();
    const orders = this.orders.find(project, ORDER_FIELDS).sort({ _id: 1 }).lean<OrderRef[]>().cursor({ batchSize: run.batchSize });
    const entries = new Peekable(
      this.ledger.find(project, ENTRY_FIELDS).sort({ order_id: 1, kind: 1 }).lean<EntryRef[]>().cursor({ batchSize: run.batchSize }),
      (entry) => {
        this.checkEntry(run, summary, entry);
        chain.add(entry);
        if (++summary.entries % run.batchSize === 0) progress('ledger', summary.entries);
      },
    );
    const cards = new Peekable(this.cards.find(project, CARD_FIELDS).sort({ order_id: 1 }).lean<CardRef[]>().cursor({ batchSize: run.batchSize }));
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
      if (!run.inFlight(order)) this.checkOrder(run, summary.project_id, order, mine, hasCard);
      if (summary.orders % run.batchSize === 0) progress('orders', summary.orders);
    }
    await orphanEntriesBefore(undefined);
    await orphanCardsBefore(undefined);
    await providerChecks.flush();
    progress('ledger', summary.entries);
    progress('orders', summary.orders);
    return chain;
  }

  /** One settled order against all of its ledger entries (and whether it has a card). */
  private checkOrder(run: Run, projectId: string, order: OrderRef, mine: EntryRef[], hasCard: boolean): void {
    const at = { project_id: projectId, order_id: order._id };
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

/** A cursor that can look at its next row without taking it; `onRow` sees each row once, as it is read. */
class Peekable<T> {
  private readonly iterator: AsyncIterator<T>;
  private buffered: IteratorResult<T> | undefined;

  constructor(
    source: AsyncIterable<T>,
    private readonly onRow?: (row: T) => void,
  ) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  async peek(): Promise<T | undefined> {
    if (!this.buffered) {
      this.buffered = await this.iterator.next();
      if (!this.buffered.done) this.onRow?.(this.buffered.value);
    }
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
  private pending: CardRef[] = [];

  constructor(
    private readonly run: Run,
    private readonly summary: ProjectSummary,
  ) {}

  async add(card: CardRef): Promise<void> {
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
    this.batchSize = options.batchSize ?? 2000;
    this.providerConcurrency = options.providerConcurrency ?? 8;
    this.provider = options.provider;
    this.maxFaults = options.maxFaults ?? 1000;
  }

  /** Changed within the settle window: its ledger entries may still be on their way. */
  inFlight(order: Pick<Order, 'updated_at'>): boolean {
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
