/**
 * The data set of the scale benches (bench/scale.ts, bench/reconcile-compare.ts): orders of the
 * real shape with their ledger entries, cards and cardholders, written straight into the store in
 * bulk, and the peak RSS of the processes that read them.
 */
import { readFileSync } from 'node:fs';
import type { Connection } from 'mongoose';
import { cardModel } from '../src/cards/card-model.js';
import { cardholderModel } from '../src/cardholders/cardholder-model.js';
import { ledgerEntryId, ledgerEntryModel } from '../src/ledger/ledger-entry-model.js';
import { orderModel } from '../src/orders/order-model.js';
import { projectModel } from '../src/projects/project-model.js';

export const PROJECTS = 10;
const USERS_PER_PROJECT = 2000;
export const DAY = 86_400_000;
export const NOW = Date.now();
export const SPAN = 60 * DAY;
const SLUG_MIX = ['provider_declined', 'provider_timeout'] as const;

/** A small deterministic PRNG (mulberry32): the same seed gives the same data set. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Peak RSS of the watched processes between resets, read from /proc every 200 ms. */
export class RssPeaks {
  private readonly peaks = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly pids: Record<string, number>) {
    this.timer = setInterval(() => this.sample(), 200);
    this.timer.unref();
  }
  sample(): void {
    for (const [name, pid] of Object.entries(this.pids)) {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (m) this.peaks.set(name, Math.max(this.peaks.get(name) ?? 0, Number(m[1]) / 1024));
      } catch {
        // the process ended
      }
    }
  }
  take(): Record<string, number> {
    this.sample();
    const out = Object.fromEntries([...this.peaks].map(([k, v]) => [k, Math.round(v)]));
    this.peaks.clear();
    return out;
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

/** Seeds orders [from, to) of PROJECTS synthetic projects, with a consistent ledger chain each. */
export class Seeder {
  private readonly seq = new Map<string, number>();
  private readonly balance = new Map<string, number>();
  private readonly users = new Set<string>();
  private readonly random = prng(20261202);

  constructor(
    private readonly connection: Connection,
    private readonly log: (line: string) => void,
  ) {}

  async projects(): Promise<void> {
    const past = new Date(NOW - SPAN - DAY);
    const deposit = 1_000_000_000_000;
    for (let p = 0; p < PROJECTS; p++) {
      const id = projectId(p);
      await projectModel(this.connection).collection.insertOne({
        _id: id, name: `Scale ${p}`, status: 'active', currency: 'USD', signing_keys: [], encryption_keys: [], created_at: past, updated_at: past,
      } as never);
      const orderId = `ord_${id}_dep`;
      await orderModel(this.connection).collection.insertOne({
        _id: orderId, project_id: id, order_type: 'balance_deposit', idempotency_key: 'dep', request_hash: 'h', status: 'completed', is_issued: false,
        data: { amount: deposit, reason: 'float', currency: 'USD' }, rejected: false, attempts: 0, balance_before: 0, balance_after: deposit, created_at: past, updated_at: past,
      } as never);
      await ledgerEntryModel(this.connection).collection.insertOne({
        _id: ledgerEntryId(id, 1), project_id: id, seq: 1, kind: 'deposit', amount: deposit, balance_before: 0, balance_after: deposit, currency: 'USD', order_id: orderId, created_at: past,
      } as never);
      this.seq.set(id, 1);
      this.balance.set(id, deposit);
    }
  }

  async orders(from: number, to: number): Promise<void> {
    const batch = 2000;
    for (let start = from; start < to; start += batch) {
      const orders: object[] = [];
      const entries: object[] = [];
      const cards: object[] = [];
      const holders: object[] = [];
      for (let i = start; i < Math.min(to, start + batch); i++) this.order(i, orders, entries, cards, holders);
      await Promise.all([
        orderModel(this.connection).collection.insertMany(orders as never[], { ordered: false }),
        ledgerEntryModel(this.connection).collection.insertMany(entries as never[], { ordered: false }),
        cards.length > 0 ? cardModel(this.connection).collection.insertMany(cards as never[], { ordered: false }) : undefined,
        holders.length > 0 ? cardholderModel(this.connection).collection.insertMany(holders as never[], { ordered: false }) : undefined,
      ]);
      if ((start - from) % 50_000 === 0) this.log(`  seeded ${start + batch} orders`);
    }
  }

  private order(i: number, orders: object[], entries: object[], cards: object[], holders: object[]): void {
    const project = projectId(i % PROJECTS);
    const user = `user_${Math.floor(this.random() * USERS_PER_PROJECT)}`;
    const at = new Date(NOW - SPAN + Math.floor(this.random() * SPAN));
    const id = `ord_s${String(i).padStart(8, '0')}`;
    const total = 1000 + (i % 97);
    const failed = this.random() < 0.1;
    const slug = SLUG_MIX[i % SLUG_MIX.length]!;
    const before = this.balance.get(project)!;
    const chargeSeq = this.seq.get(project)! + 1;
    const charge = {
      _id: ledgerEntryId(project, chargeSeq), project_id: project, seq: chargeSeq, kind: 'charge', amount: -total, balance_before: before,
      balance_after: before - total, currency: 'USD', order_id: id, created_at: at,
    };
    entries.push(charge);
    let seq = chargeSeq;
    let balance = before - total;
    const order: Record<string, unknown> = {
      _id: id, project_id: project, order_type: 'card_issue', idempotency_key: `k${i}`, request_hash: 'h', external_user_id: user,
      external_id: `ext_${i}`, data: { product_code: 'SCALE_USD', currency: 'USD', issue_fee: 100, initial_balance: total - 100, total_charge: total },
      rejected: false, attempts: 1, balance_before: before, balance_after: before - total, created_at: at, updated_at: at,
    };
    if (failed) {
      seq += 1;
      entries.push({ ...charge, _id: ledgerEntryId(project, seq), seq, kind: 'refund', amount: total, balance_before: balance, balance_after: before });
      balance = before;
      Object.assign(order, { status: 'failed', issue_status: 'card_create_error', is_issued: false, last_error_slug: slug, last_error: 'x', failed_at: at });
    } else {
      const cardId = `card_s${String(i).padStart(8, '0')}`;
      Object.assign(order, {
        status: 'completed', issue_status: 'completed', is_issued: true, card_id: cardId, provider_card_id: `pc_${i}`, provider_card_status: 'active', completed_at: at,
      });
      cards.push({
        _id: cardId, project_id: project, order_id: id, provider_card_id: `pc_${i}`, status: 'active', masked_pan: '411111******1111',
        secrets: { key_id: 'k', iv: 'aXY=', ciphertext: 'Y3Q=', tag: 'dGFn' }, currency: 'USD', product_code: 'SCALE_USD', external_user_id: user,
        created_at: at, updated_at: at,
      });
    }
    this.seq.set(project, seq);
    this.balance.set(project, balance);
    orders.push(order);
    if (!this.users.has(`${project}/${user}`)) {
      this.users.add(`${project}/${user}`);
      holders.push({ _id: `ch_${project}_${user}`, project_id: project, external_user_id: user, verification_status: 'verified', created_at: at, updated_at: at });
    }
  }
}

export function projectId(p: number): string {
  return `prj_scale_${p}`;
}

/** Documents the store returned (find and getMore batches) and commands sent, from the driver's events. */
export class DocCounter {
  docs = 0;
  commands = 0;
  constructor(connection: Connection) {
    connection.getClient().on('commandSucceeded', (event) => {
      this.commands++;
      const cursor = (event.reply as { cursor?: { firstBatch?: unknown[]; nextBatch?: unknown[] } }).cursor;
      this.docs += (cursor?.firstBatch ?? cursor?.nextBatch ?? []).length;
    });
  }
}
