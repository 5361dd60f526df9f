import type { Connection, Model } from 'mongoose';
import { isDuplicateKeyError } from '../store/duplicate-key.js';
import { KeyedMutex } from './keyed-mutex.js';
import { ledgerEntryId, ledgerEntryModel, ledgerHeadModel, type LedgerEntry, type LedgerHead, type LedgerKind } from './ledger-entry-model.js';

export class InsufficientFundsError extends Error {
  override name = 'InsufficientFundsError';
  constructor(
    readonly balance: number,
    readonly amount: number,
  ) {
    super('insufficient funds');
  }
}

export class LedgerContentionError extends Error {
  override name = 'LedgerContentionError';
}

export interface AppendRequest {
  project_id: string;
  order_id: string;
  kind: LedgerKind;
  /** Signed minor units: negative for a charge. */
  amount: number;
  currency: string;
}

export interface AppendResult {
  entry: LedgerEntry;
  /** True when this (order, kind) was already in the chain: nothing new was written. */
  alreadyApplied: boolean;
}

const MAX_ATTEMPTS = 200;
/** The stored head hint is refreshed every this many entries: a cold start probes at most this far. */
const HINT_EVERY = 16;

/**
 * Appends to a project's balance chain without transactions (contract section 6): take the last
 * entry, compute the next, insert it. The unique (project_id, seq) index makes the insert fail if
 * another writer took that seq; we move on to the newer entry and retry. The unique
 * (project_id, order_id, kind) index makes a repeated charge or refund a no-op that returns the
 * entry already written, which is what makes crash recovery and idempotent retries safe.
 *
 * Every entry is stored under `_id` = project:seq, so the chain is walked by `_id` (the one lookup
 * the embedded store answers from an index). This process remembers each chain's last entry;
 * entries are immutable, so a remembered entry is never wrong, only possibly not the last: the
 * insert of seq n+1 then fails and we walk forward. Appending is therefore one insert in the common
 * case. A cold start reads a stored hint (refreshed every HINT_EVERY entries) and walks from there.
 *
 * Writers in this process queue per project first, so they do not race each other; races between
 * processes are still settled by the indexes.
 */
export class LedgerService {
  private readonly entries: Model<LedgerEntry>;
  private readonly heads: Model<LedgerHead>;
  private readonly queue = new KeyedMutex();
  /** Per project: the last entry this process has seen (null: the chain was empty). */
  private readonly lastSeen = new Map<string, LedgerEntry | null>();

  constructor(connection: Connection) {
    this.entries = ledgerEntryModel(connection);
    this.heads = ledgerHeadModel(connection);
  }

  /** Current balance in minor units: the last entry's balance_after, 0 for an empty chain. */
  async balance(projectId: string): Promise<number> {
    return (await this.lastEntry(projectId))?.balance_after ?? 0;
  }

  /** The chain's last entry now (read from the store, not only remembered). */
  async lastEntry(projectId: string): Promise<LedgerEntry | null> {
    return this.queue.run(projectId, async () => this.walkForward(projectId, await this.startingPoint(projectId)));
  }

  /**
   * The entry of an order of this kind. Not by `_id` (entries are keyed by seq): on the embedded
   * store this scans, so appends use it only on their rare paths (a repeat, a refusal).
   */
  async entryFor(projectId: string, orderId: string, kind: LedgerKind): Promise<LedgerEntry | null> {
    return this.entries.findOne({ project_id: projectId, order_id: orderId, kind }).lean<LedgerEntry>();
  }

  /** Throws InsufficientFundsError if a negative amount would take the balance below zero. */
  append(request: AppendRequest): Promise<AppendResult> {
    if (!Number.isSafeInteger(request.amount) || request.amount === 0) {
      return Promise.reject(new RangeError('ledger amount must be a non-zero safe integer'));
    }
    return this.queue.run(request.project_id, () => this.appendWithRetry(request));
  }

  /**
   * An order's charge, decided once for all its holders. `decide(covered)` runs in this project's
   * queue, told whether the balance covers the charge (the chain's true last entry is read when the
   * remembered one does not), and records the decision where every holder of the order finds it
   * (the order's transition log): it returns the decision that holds, which may be another
   * holder's. Only a decision to charge appends, so a holder that decided to refuse and paused can
   * never meet a charge made after its decision: that charge needed the decision it lost. The
   * append follows in the same turn of the queue, so no charge of this process takes the balance
   * in between; a charge of another process still can, and then this throws
   * InsufficientFundsError with the decision standing (the caller retries later).
   * Returns the entry, or undefined when the decision is to refuse.
   */
  chargeOnce(request: AppendRequest, decide: (covered: boolean) => Promise<boolean>): Promise<AppendResult | undefined> {
    if (!Number.isSafeInteger(request.amount) || request.amount >= 0) {
      return Promise.reject(new RangeError('a charge must be a negative safe integer'));
    }
    return this.queue.run(request.project_id, async () => {
      let last = await this.startingPoint(request.project_id);
      if ((last?.balance_after ?? 0) + request.amount < 0) last = await this.walkForward(request.project_id, last);
      if (!(await decide((last?.balance_after ?? 0) + request.amount >= 0))) return undefined;
      return this.appendWithRetry(request);
    });
  }

  private async appendWithRetry(request: AppendRequest): Promise<AppendResult> {
    const projectId = request.project_id;
    let last = await this.startingPoint(projectId);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const balanceBefore = last?.balance_after ?? 0;
      const balanceAfter = balanceBefore + request.amount;
      if (balanceAfter < 0) {
        // Refuse only on the true last entry (another process may have deposited since), and not
        // an order that was charged before (a retry after a crash).
        const newest = await this.walkForward(projectId, last);
        if (newest !== last) {
          last = newest;
          continue;
        }
        const existing = await this.entryFor(projectId, request.order_id, request.kind);
        if (existing) return { entry: existing, alreadyApplied: true };
        throw new InsufficientFundsError(balanceBefore, request.amount);
      }

      const seq = (last?.seq ?? 0) + 1;
      const entry: LedgerEntry = {
        _id: ledgerEntryId(projectId, seq),
        project_id: projectId,
        seq,
        kind: request.kind,
        amount: request.amount,
        balance_before: balanceBefore,
        balance_after: balanceAfter,
        currency: request.currency,
        order_id: request.order_id,
        created_at: new Date(),
      };
      try {
        await this.entries.collection.insertOne({ ...entry } as never);
        this.lastSeen.set(projectId, entry);
        if (seq % HINT_EVERY === 0) await this.storeHint(projectId, seq);
        return { entry, alreadyApplied: false };
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
      }

      // Which unique index refused us? Another writer's entry at this seq, or this (order, kind)
      // already in the chain (a repeated charge or refund).
      const taken = await this.entries.findOne({ _id: entry._id }).lean<LedgerEntry>();
      if (taken) {
        if (taken.order_id === request.order_id && taken.kind === request.kind) return this.remember(taken, true);
        last = await this.walkForward(projectId, taken);
      } else {
        const existing = await this.entryFor(projectId, request.order_id, request.kind);
        if (existing) return { entry: existing, alreadyApplied: true };
        // The seq is held by an entry stored under another _id (written before entries were keyed
        // by seq): find the last entry by the (project_id, seq) index.
        last = await this.walkForward(projectId, await this.lastBySeq(projectId));
      }
      // A little jitter keeps racing processes from colliding again.
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
    }
    throw new LedgerContentionError(`could not append to the ledger of ${projectId}`);
  }

  private remember(entry: LedgerEntry, alreadyApplied: boolean): AppendResult {
    const seen = this.lastSeen.get(entry.project_id);
    if (!seen || seen.seq < entry.seq) this.lastSeen.set(entry.project_id, entry);
    return { entry, alreadyApplied };
  }

  /** Where to start looking for the last entry: remembered, else the stored hint, else the index. */
  private async startingPoint(projectId: string): Promise<LedgerEntry | null> {
    const seen = this.lastSeen.get(projectId);
    if (seen !== undefined) return seen;
    const hint = await this.heads.findOne({ _id: projectId }).lean<LedgerHead>();
    const hinted = hint ? await this.entries.findOne({ _id: ledgerEntryId(projectId, hint.seq) }).lean<LedgerEntry>() : null;
    return hinted ?? this.lastBySeq(projectId);
  }

  /** The entries after `from`, one `_id` lookup each, to the last; remembers it. */
  private async walkForward(projectId: string, from: LedgerEntry | null): Promise<LedgerEntry | null> {
    let last = from;
    for (;;) {
      const next = await this.entries.findOne({ _id: ledgerEntryId(projectId, (last?.seq ?? 0) + 1) }).lean<LedgerEntry>();
      if (!next) break;
      last = next;
    }
    this.lastSeen.set(projectId, last);
    return last;
  }

  /** By the (project_id, seq) index: on the embedded store a scan, so only on a cold or odd path. */
  private async lastBySeq(projectId: string): Promise<LedgerEntry | null> {
    return this.entries.findOne({ project_id: projectId }).sort({ seq: -1 }).lean<LedgerEntry>();
  }

  private async storeHint(projectId: string, seq: number): Promise<void> {
    try {
      // A hint only: a lost or late write costs a longer walk, never a wrong balance.
      await this.heads.updateOne({ _id: projectId }, { $set: { seq, updated_at: new Date() } }, { upsert: true });
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err; // two first upserts raced: the other one stands
    }
  }
}
