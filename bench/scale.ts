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
import { OrderLookup, encodeCursor, type OrderFilter } from '../src/back-office/order-lookup.js';
import { Reconciler } from '../src/reconcile/reconciler.js';
import { queuedOrderModel } from '../src/workflow/order-queue.js';
import { waitUntil } from '../test/support/gateway-process.js';
import { cpuSeconds } from './cpu.js';
import { runPaced } from './load.js';
import { prepare, setUpPartner, startBenchStack } from './partner-setup.js';
import { DAY, DocCounter, NOW, PROJECTS, RssPeaks, SPAN, Seeder, projectId } from './scale-data.js';

const SIZES = (process.env.BENCH_SCALE_SIZES ?? '10000,100000,1000000').split(',').map((s) => Number(s.trim()));
const RATE = Number(process.env.BENCH_SCALE_RATE ?? 20);
const SECONDS = Number(process.env.BENCH_SCALE_SECONDS ?? 5);
const REPEATS = Number(process.env.BENCH_SCALE_REPEATS ?? 10);

function log(line: string): void {
  process.stderr.write(`${line}\n`);
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
  const docs = new DocCounter(connection);
  const results: SizeResult[] = [];
  try {
    const client = await setUpPartner(connection, gateway.url);
    const first = await client.createCard({ product_code: 'BENCH_USD', external_user_id: 'bench-user', initial_balance: '1.00' });
    await waitUntil(async () => (await queuedOrderModel(connection).countDocuments()) === 0, 60_000, 'the first order to finish');
    const seeder = new Seeder(connection, log);
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
      const docsBefore = docs.docs;
      const [reconcileMs, report] = await timed(() => new Reconciler(connection).run({ stuckAfterS: 3600 }));
      // The profile of where reconciliation's time goes: documents the store returned (each entry,
      // order and card once when the chains are whole), CPU per document in each process.
      const docsRead = docs.docs - docsBefore;
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
