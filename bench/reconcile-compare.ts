/**
 * Reconciliation before and after it read each ledger entry once (issue 12), on the same store in
 * one run: `npm run build && node dist/bench/reconcile-compare.js`.
 *
 * Seeds BENCH_RECONCILE_ORDERS orders (default 10,000) of bench/scale.ts's shape (ten projects, 90%
 * completed with a charge and a card, 10% failed with a charge and a refund) into a fresh embedded
 * store, then runs the two-pass reconciler (bench/reconciler-two-pass.ts) and the current one
 * alternately, BENCH_RECONCILE_ROUNDS times each (3), the current one once per batch size of
 * BENCH_RECONCILE_BATCH_SIZES (500,2000). Counts the documents the store returned from the
 * driver's command events, and the store's CPU from /proc. Prints each run, the medians, and
 * `reconcile_orders=N old_entries_s=… new_entries_s=… ratio=…` (the new one at the first batch size).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import { cardModel } from '../src/cards/card-model.js';
import { cardholderModel } from '../src/cardholders/cardholder-model.js';
import { ledgerEntryModel } from '../src/ledger/ledger-entry-model.js';
import { orderModel } from '../src/orders/order-model.js';
import { projectModel } from '../src/projects/project-model.js';
import { Reconciler, type ReconcileReport } from '../src/reconcile/reconciler.js';
import { connectDatabase } from '../src/store/database.js';
import { startEmbeddedStore } from '../src/store/embedded-store.js';
import { cpuSeconds } from './cpu.js';
import { TwoPassReconciler } from './reconciler-two-pass.js';
import { RssPeaks, Seeder } from './scale-data.js';

const ORDERS = Number(process.env.BENCH_RECONCILE_ORDERS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_RECONCILE_ROUNDS ?? 3);
const BATCH_SIZES = (process.env.BENCH_RECONCILE_BATCH_SIZES ?? '500,2000').split(',').map((s) => Number(s.trim()));

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

interface Variant {
  name: string;
  run: () => Promise<ReconcileReport>;
}

interface Measured {
  seconds: number;
  entries: number;
  docs: number;
  commands: number;
  storeCpuS: number;
  ok: boolean;
}

/** Documents the store returned (find and getMore batches) and commands sent, from the driver's events. */
class DocCounter {
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

async function measure(variant: Variant, counter: DocCounter, storePid: number): Promise<Measured> {
  const docs = counter.docs;
  const commands = counter.commands;
  const cpu = cpuSeconds(storePid);
  const started = performance.now();
  const report = await variant.run();
  const seconds = (performance.now() - started) / 1000;
  return {
    seconds, entries: report.totals.entries, docs: counter.docs - docs, commands: counter.commands - commands,
    storeCpuS: cpuSeconds(storePid) - cpu, ok: report.ok,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-reconcile-compare-'));
  const store = await startEmbeddedStore({ dataDir: path.join(work, 'data') });
  const storePid = (JSON.parse(await readFile(path.join(work, 'data', 'store-address.json'), 'utf8')) as { pid: number }).pid;
  const connection = await connectDatabase(`${store.uri}card_gateway_reconcile_compare`);
  const rss = new RssPeaks({ store: storePid, bench: process.pid });
  let failed = false;
  try {
    for (const model of [projectModel(connection), orderModel(connection), ledgerEntryModel(connection), cardModel(connection), cardholderModel(connection)]) {
      await model.createIndexes();
    }
    log(`seeding ${ORDERS} orders...`);
    const seeder = new Seeder(connection, log);
    await seeder.projects();
    const seedStarted = performance.now();
    await seeder.orders(0, ORDERS);
    log(`  seeded in ${Math.round((performance.now() - seedStarted) / 1000)} s`);

    const options = { stuckAfterS: 3600 };
    const variants: Variant[] = [
      { name: 'old (two passes, batch 500)', run: () => new TwoPassReconciler(connection).run(options) },
      ...BATCH_SIZES.map((batchSize) => ({ name: `new (one pass, batch ${batchSize})`, run: () => new Reconciler(connection).run({ ...options, batchSize }) })),
    ];
    const counter = new DocCounter(connection);
    const results = new Map<string, Measured[]>(variants.map((v) => [v.name, []]));
    rss.take();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const variant of variants) {
        const m = await measure(variant, counter, storePid);
        results.get(variant.name)!.push(m);
        failed ||= !m.ok;
        log(
          `  round ${round} ${variant.name}: ${m.entries} entries in ${m.seconds.toFixed(2)} s = ${Math.round(m.entries / m.seconds)}/s, ` +
            `${(m.docs / m.entries).toFixed(2)} documents per entry, ${m.commands} commands, store CPU ${Math.round((m.storeCpuS * 1e6) / m.docs)} µs per document${m.ok ? '' : ', FAULTS'}`,
        );
      }
    }
    const peaks = rss.take();

    const summary = variants.map((v) => {
      const runs = results.get(v.name)!;
      return {
        name: v.name,
        entriesPerS: median(runs.map((m) => m.entries / m.seconds)),
        docsPerEntry: median(runs.map((m) => m.docs / m.entries)),
        storeUsPerDoc: median(runs.map((m) => (m.storeCpuS * 1e6) / m.docs)),
      };
    });
    const old = summary[0]!;
    process.stdout.write(`\nreconciliation of ${ORDERS} orders (${results.get(old.name)![0]!.entries} ledger entries), medians of ${ROUNDS} alternating runs, ${new Date().toISOString()}\n`);
    for (const s of summary) {
      process.stdout.write(
        `  ${s.name.padEnd(30)} ${String(Math.round(s.entriesPerS)).padStart(6)} entries/s  ${s.docsPerEntry.toFixed(2)} documents per entry  ` +
          `store ${Math.round(s.storeUsPerDoc)} µs per document  x${(s.entriesPerS / old.entriesPerS).toFixed(2)}\n`,
      );
    }
    process.stdout.write(`  peak RSS MB: store ${peaks.store ?? '?'}, bench (reconcilers) ${peaks.bench ?? '?'}\n`);
    const first = summary[1]!;
    process.stdout.write(
      `reconcile_orders=${ORDERS} old_entries_s=${Math.round(old.entriesPerS)} new_entries_s=${Math.round(first.entriesPerS)} ratio=${(first.entriesPerS / old.entriesPerS).toFixed(2)}\n`,
    );
  } finally {
    rss.stop();
    await connection.close();
    await store.stop();
    await rm(work, { recursive: true, force: true });
  }
  if (failed) process.exitCode = 1;
}

await main();
