import type { Connection, Model } from 'mongoose';
import { isDuplicateKeyError } from '../store/duplicate-key.js';
import { KeyedMutex } from './keyed-mutex.js';
import { ledgerEntryModel, type LedgerEntry, type LedgerKind } from './ledger-entry-model.js';

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

/**
 * Appends to a project's balance chain without transactions (contract section 6):
 * read the last entry, compute the next, insert it. The unique (project_id, seq) index makes the
 * insert fail if another writer took that seq; we re-read and retry. The unique
 * (project_id, order_id, kind) index makes a repeated charge or refund a no-op that returns the
 * entry already written, which is what makes crash recovery and idempotent retries safe.
 *
 * Writers in this process queue per project first, so they do not race each other; races between
 * processes are still settled by the index.
 */
export class LedgerService {
  private readonly entries: Model<LedgerEntry>;
  private readonly queue = new KeyedMutex();

  constructor(connection: Connection) {
    this.entries = ledgerEntryModel(connection);
  }

  /** Current balance in minor units: the last entry's balance_after, 0 for an empty chain. */
  async balance(projectId: string): Promise<number> {
    return (await this.lastEntry(projectId))?.balance_after ?? 0;
  }

  async lastEntry(projectId: string): Promise<LedgerEntry | null> {
    return this.entries.findOne({ project_id: projectId }).sort({ seq: -1 }).lean<LedgerEntry>();
  }

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

  private async appendWithRetry(request: AppendRequest): Promise<AppendResult> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const existing = await this.entryFor(request.project_id, request.order_id, request.kind);
      if (existing) return { entry: existing, alreadyApplied: true };

      const last = await this.lastEntry(request.project_id);
      const balanceBefore = last?.balance_after ?? 0;
      const balanceAfter = balanceBefore + request.amount;
      if (balanceAfter < 0) throw new InsufficientFundsError(balanceBefore, request.amount);

      const entry: LedgerEntry = {
        project_id: request.project_id,
        seq: (last?.seq ?? 0) + 1,
        kind: request.kind,
        amount: request.amount,
        balance_before: balanceBefore,
        balance_after: balanceAfter,
        currency: request.currency,
        order_id: request.order_id,
        created_at: new Date(),
      };
      try {
        await this.entries.collection.insertOne({ ...entry });
        return { entry, alreadyApplied: false };
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
        // Lost the seq to another process, or the same (order, kind) landed meanwhile: the
        // next loop tells which. A little jitter keeps racing processes from colliding again.
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
      }
    }
    throw new LedgerContentionError(`could not append to the ledger of ${request.project_id}`);
  }
}
