import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { WireAccount, WireCard, WireFundsMovement } from '../src/provider/http/wire.js';

/** A card as the simulator keeps it: the wire view plus what only `/sensitive` shows. */
export interface SimCard extends WireCard {
  pan: string;
  cvv: string;
}

/** A load as kept: `verified` is what `GET .../loads/{id}` reports (a rule can make it differ). */
export interface SimLoad extends WireFundsMovement {
  verified: 'succeeded' | 'failed';
}

export type Failure = 'declined' | 'unavailable' | 'timeout';

/** How the simulator treats one account's cards (set over the simulator API). */
export interface Rule {
  card_issue: 'auto' | 'hold' | 'fail';
  create_card_failure?: { failure: Failure; times: number };
  topup_failure?: { failure: Failure; times: number };
  topup_result: 'succeed' | 'fail' | 'verify_fail';
  /** What becomes of a new account (the customer's verification): at once, or held for `PATCH /v1/simulator/accounts/{id}/verify|reject`. */
  account_verification: 'verify' | 'reject' | 'hold';
}

export interface StoredAnswer {
  fingerprint: string;
  status: number;
  body: unknown;
}

type Entry =
  | { t: 'account'; v: WireAccount }
  | { t: 'card'; v: SimCard }
  | { t: 'load'; v: SimLoad }
  | { t: 'answer'; key: string; v: StoredAnswer }
  | { t: 'rule'; reference: string; v: Rule | null }
  | { t: 'failed'; key: string };

/**
 * The simulator's storage: an append-only JSON-lines file replayed at start, so its cards, loads
 * and idempotency answers survive a kill of the simulator or of the gateway that started it. Each
 * write is one synchronous append before the answer leaves, which is all a kill can interrupt.
 */
export class Journal {
  readonly accounts = new Map<string, WireAccount>();
  readonly accountByReference = new Map<string, string>();
  /** Insertion order is creation order: card lists page over it. */
  readonly cards = new Map<string, SimCard>();
  readonly loads = new Map<string, SimLoad>();
  readonly answers = new Map<string, StoredAnswer>();
  readonly rules = new Map<string, Rule>();
  /** Injected failures already served, per key ("fail N times" counts exactly). */
  readonly failures = new Map<string, number>();
  private readonly fd: number;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'journal.jsonl');
    if (existsSync(file)) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line) continue;
        try {
          this.apply(JSON.parse(line) as Entry);
        } catch {
          // A line cut by a kill mid-append is the last one and was never answered: skip it.
        }
      }
    }
    this.fd = openSync(file, 'a');
  }

  account(v: WireAccount): void {
    this.write({ t: 'account', v });
  }
  card(v: SimCard): void {
    this.write({ t: 'card', v });
  }
  load(v: SimLoad): void {
    this.write({ t: 'load', v });
  }
  answer(key: string, v: StoredAnswer): void {
    this.write({ t: 'answer', key, v });
  }
  rule(reference: string, v: Rule | null): void {
    this.write({ t: 'rule', reference, v });
  }
  failed(key: string): void {
    this.write({ t: 'failed', key });
  }

  close(): void {
    closeSync(this.fd);
  }

  private write(entry: Entry): void {
    writeSync(this.fd, `${JSON.stringify(entry)}\n`);
    this.apply(entry);
  }

  private apply(entry: Entry): void {
    switch (entry.t) {
      case 'account':
        this.accounts.set(entry.v.id, entry.v);
        this.accountByReference.set(entry.v.reference, entry.v.id);
        break;
      case 'card':
        this.cards.set(entry.v.id, entry.v);
        break;
      case 'load':
        this.loads.set(entry.v.id, entry.v);
        break;
      case 'answer':
        this.answers.set(entry.key, entry.v);
        break;
      case 'rule':
        if (entry.v) this.rules.set(entry.reference, entry.v);
        else this.rules.delete(entry.reference);
        break;
      case 'failed':
        this.failures.set(entry.key, (this.failures.get(entry.key) ?? 0) + 1);
        break;
    }
  }
}
