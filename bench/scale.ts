/**
 * The embedded store at scale (issue 12): `npm run bench:scale`.
 *
 * Seeds orders of the real shape with their ledger entries, cards and cardholders straight into the
 * store (insertMany, not HTTP) up to each size of BENCH_SCALE_SIZES (default 10000,100000,1000000;
 * each size adds to the last), and at each size measures:
 *  - the first page and a deep page (a keyset cursor half-way down) of every support lookup, through
 *    the same OrderLookup the admin API and `npm run orders` use;
 *  - the counts per slug over 30 days;
 *  - orders/check and cards/create p99 at a fixed moderate rate through a real gateway process;
 *  - reconciliation of every project (time, ledger entries/s);
 *  - the peak RSS of the gateway, the store and this process (which runs the reconciler).
 * Prints a table and ends with the summary line the issue asks for (figures of the largest size).
 */
import { rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import type { Connection } from 'mongoose';
import { OrderLookup, encodeCursor, type OrderFilter } from '../src/back-office/order-lookup.js';
import { cardModel } from '../src/cards/card-model.js';
import { cardholderModel } from '../src/cardholders/cardholder-model.js';
import { ledgerEntryId, ledgerEntryModel } from '../src/ledger/ledger-entry-model.js';
import { orderModel } from '../src/orders/order-model.js';
import { projectModel } from '../src/projects/project-model.js';
import { Reconciler } from '../src/reconcile/reconciler.js';
import { queuedOrderModel } from '../src/workflow/order-queue.js';
import { waitUntil } from '../test/support/gateway-process.js';
import { cpuSeconds } from './cpu.js';
import { runPaced } from './load.js';
import { prepare, setUpPartner, startBenchStack } from './partner-setup.js';

const SIZES = (process.env.BENCH_SCALE_SIZES ?? '10000,100000,1000000').split(',').map((s) => Number(s.trim()));
const RATE = Number(process.env.BENCH_SCALE_RATE ?? 20);
const SECONDS = Number(process.env.BENCH_SCALE_SECONDS ?? 5);
const REPEATS = Number(process.env.BENCH_SCALE_REPEATS ?? 10);
const PROJECTS = 10;
const USERS_PER_PROJECT = 2000;
const DAY = 86_400_000;
const NOW = Date.now();
const SPAN = 60 * DAY;
const SLUG_MIX = ['provider_declined', 'provider_timeout'] as const;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

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
class RssPeaks {
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
class Seeder {
  private readonly seq = new Map<string, number>();
  private readonly balance = new Map<string, number>();
  private readonly users = new Set<string>();
  private readonly random = prng(20261202);

  constructor(private readonly connection: Connection) {}

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
      if ((start - from) % 50_000 === 0) log(`  seeded ${start + batch} orders`);
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

function projectId(p: number): string {
  return `prj_scale_${p}`;
}

async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const r = await f();
  return [performance.now() - t, r];
}

/** p99 of REPEATS runs (with so few, the slowest but one when there are 10 or more). */
async function p99(f: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) times.push((await timed(f))[0]);
  times.sort((a, b) => a - b);
  return Math.round(times[Math.min(times.length - 1, Math.floor(0.99 * times.length))]! * 10) / 10;
}

interface SizeResult {
  size: number;
  seedS: number;
  lookups: Record<string, { first: number; deep: number; rows: number }>;
  countsMs: number;
  checkP99: number;
  createP99: number;
  reconcileS: number;
  entriesPerS: number;
  entries: number;
  reconcileOk: boolean;
  rss: Record<string, number>;
  docsRead: number;
  storeUsPerDoc: number;
  benchUsPerDoc: number;
}

async function main(): Promise<void> {
  const { work, store, storePid, connection, gateway } = await startBenchStack('scale');
  const rss = new RssPeaks({ gateway: gateway.child.pid!, store: storePid, bench: process.pid });
  const results: SizeResult[] = [];
  try {
    const client = await setUpPartner(connection, gateway.url);
    const first = await client.createCard({ product_code: 'BENCH_USD', external_user_id: 'bench-user', initial_balance: '1.00' });
    await waitUntil(async () => (await queuedOrderModel(connection).countDocuments()) === 0, 60_000, 'the first order to finish');
    const seeder = new Seeder(connection);
    await seeder.projects();
    const lookup = new OrderLookup(connection);
    let seeded = 0;

    for (const size of SIZES) {
      log(`seeding to ${size} orders...`);
      const [seedMs] = await timed(() => seeder.orders(seeded, size));
      log(`  ${size - seeded} orders seeded in ${Math.round(seedMs / 1000)} s`);
      seeded = size;
      rss.take();

      const filters: Record<string, OrderFilter> = {
        slug: { last_error_slug: 'provider_declined' },
        status: { status: 'failed' },
        project: { project_id: projectId(3) },
        'project+user': { project_id: projectId(3), external_user_id: 'user_42' },
        'project+external_id': { project_id: projectId(3), external_id: `ext_${Math.floor(size / 2 / PROJECTS) * PROJECTS + 3}` },
        'time range': { from: new Date(NOW - 7 * DAY), to: new Date(NOW - 6 * DAY) },
      };
      // Half-way down every lookup: a cursor at the middle of the seeded time span.
      const deepCursor = encodeCursor({ created_at: new Date(NOW - SPAN / 2), _id: 'ord_~' });
      const deepCursorRange = encodeCursor({ created_at: new Date(NOW - 6.5 * DAY), _id: 'ord_~' });
      const lookups: SizeResult['lookups'] = {};
      for (const [name, filter] of Object.entries(filters)) {
        log(`  lookup ${name}`);
        const page = await lookup.find(filter, { limit: 50 });
        const firstMs = await p99(() => lookup.find(filter, { limit: 50 }));
        const cursor = name === 'time range' ? deepCursorRange : deepCursor;
        const deepMs = await p99(() => lookup.find(filter, { limit: 50, cursor }));
        lookups[name] = { first: firstMs, deep: deepMs, rows: page.orders.length };
        log(`    first page p99 ${firstMs} ms, deep page p99 ${deepMs} ms`);
      }
      log('  counts per slug over 30 days');
      const countsMs = await p99(() => lookup.countBySlug({ from: new Date(NOW - 30 * DAY) }));
      log(`    p99 ${countsMs} ms`);

      log(`  check and create at ${RATE}/s for ${SECONDS} s`);
      const n = RATE * SECONDS;
      const check = await runPaced({
        url: gateway.url, path: '/api/v1/orders/check', rate: RATE,
        requests: await prepare(client, '/api/v1/orders/check', { order_id: first.data.order_id }, n, false),
      });
      const create = await runPaced({
        url: gateway.url, path: '/api/v1/cards/create', rate: RATE,
        requests: await prepare(client, '/api/v1/cards/create', { product_code: 'BENCH_USD', external_user_id: 'bench-user', initial_balance: '1.00' }, n, true),
      });
      await waitUntil(async () => (await queuedOrderModel(connection).countDocuments()) === 0, 600_000, 'the created orders to finish');

      log('  reconciliation');
      const cpuBefore = { store: cpuSeconds(storePid), bench: process.cpuUsage() };
      const [reconcileMs, report] = await timed(() => new Reconciler(connection).run({ stuckAfterS: 3600 }));
      // The profile of where reconciliation's time goes: each entry is read twice (chain, then
      // beside its order), each order and card once; CPU per document in each process.
      const docsRead = 2 * report.totals.entries + report.totals.orders + report.totals.cards;
      const benchCpu = process.cpuUsage(cpuBefore.bench);
      const storeUsPerDoc = Math.round(((cpuSeconds(storePid) - cpuBefore.store) * 1e6) / docsRead);
      const benchUsPerDoc = Math.round((benchCpu.user + benchCpu.system) / docsRead);
      const result: SizeResult = {
        size, seedS: Math.round(seedMs / 100) / 10, lookups, countsMs, checkP99: check.p99_ms, createP99: create.p99_ms,
        reconcileS: Math.round(reconcileMs / 100) / 10, entries: report.totals.entries, entriesPerS: Math.round(report.totals.entries / (reconcileMs / 1000)),
        reconcileOk: report.ok, rss: rss.take(), docsRead, storeUsPerDoc, benchUsPerDoc,
      };
      results.push(result);
      const bad = Object.entries({ ...check.statuses, ...create.statuses }).filter(([s]) => !s.startsWith('2'));
      if (bad.length > 0 || check.errors + create.errors > 0) log(`  non-2xx answers or errors: ${JSON.stringify({ check: check.statuses, create: create.statuses })}`);
      printSize(result);
    }
  } finally {
    rss.stop();
    gateway.child.kill('SIGTERM');
    await gateway.exited;
    await connection.close();
    await store.stop();
    await rm(work, { recursive: true, force: true });
  }
  const last = results.at(-1);
  if (!last) return;
  const lookupP99 = Math.max(...Object.values(last.lookups).flatMap((l) => [l.first, l.deep]));
  process.stdout.write(
    `scale_orders=${last.size} lookup_p99_ms=${lookupP99} counts_ms=${Math.round(last.countsMs)} reconcile_entries_s=${last.entriesPerS} ` +
      `check_p99_ms=${last.checkP99} create_p99_ms=${last.createP99} store_rss_mb=${last.rss.store ?? 0}\n`,
  );
  if (results.some((r) => !r.reconcileOk)) process.exitCode = 1;
}

function printSize(r: SizeResult): void {
  const rows = [
    ['lookup', 'first page p99 ms', 'deep page p99 ms', 'rows'],
    ...Object.entries(r.lookups).map(([name, l]) => [name, String(l.first), String(l.deep), String(l.rows)]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  process.stdout.write(`\n${r.size} orders (seeded in ${r.seedS} s)\n`);
  for (const row of rows) process.stdout.write(`  ${row.map((c, i) => c.padEnd(widths[i]!)).join('  ')}\n`);
  process.stdout.write(
    `  counts per slug over 30 days: ${r.countsMs} ms; check p99 ${r.checkP99} ms, create p99 ${r.createP99} ms at ${RATE}/s\n` +
      `  reconciliation: ${r.entries} entries in ${r.reconcileS} s = ${r.entriesPerS} entries/s, ${r.reconcileOk ? 'clean' : 'FAULTS'}; ` +
      `${r.docsRead} documents read, CPU per document: store ${r.storeUsPerDoc} µs, reconciler ${r.benchUsPerDoc} µs\n` +
      `  peak RSS MB: gateway ${r.rss.gateway ?? '?'}, store ${r.rss.store ?? '?'}, bench (reconciler) ${r.rss.bench ?? '?'}\n`,
  );
}

await main();
