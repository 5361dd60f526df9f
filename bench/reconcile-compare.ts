/**
 * Reconciliation before and after it read each ledger entry once (issue 12), on the same store in
 * one run: `npm run bench:reconcile`.
 *
 * Seeds BENCH_RECONCILE_ORDERS orders (default 10,000) of bench/scale.ts's shape (ten projects, 90%
 * completed with a charge and a card, 10% failed with a charge and a refund) into a fresh embedded
 * store, then runs the two-pass reconciler (bench/reconciler-two-pass.ts) and the current one
 * alternately, BENCH_RECONCILE_ROUNDS times each (3), the current one once per batch size of
 * BENCH_RECONCILE_BATCH_SIZES (500,2000). Counts the documents the store returned from the
 * driver's command events, and the store's CPU from /proc. Then reads each collection whole with
 * and without the reconciler's projection, alternately, for the store's CPU per document of each.
 * Prints each run and the medians; wall-clock entries/s swings with the machine's load, CPU per
 * entry (store and reconciler) much less. Ends with `reconcile_orders=N old_entries_s=…
 * new_entries_s=… ratio=… cpu_ratio=…` (the new one at the first batch size; cpu_ratio is the old
 * one's CPU per entry over the new one's).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Model } from 'mongoose';
import { cardModel } from '../src/cards/card-model.js';
import { cardholderModel } from '../src/cardholders/cardholder-model.js';
import { ledgerEntryModel } from '../src/ledger/ledger-entry-model.js';
import { orderModel } from '../src/orders/order-model.js';
import { projectModel } from '../src/projects/project-model.js';
import { RECONCILE_FIELDS, Reconciler, type ReconcileReport } from '../src/reconcile/reconciler.js';
import { connectDatabase } from '../src/store/database.js';
import { startEmbeddedStore } from '../src/store/embedded-store.js';
import { cpuSeconds } from './cpu.js';
import { TwoPassReconciler } from './reconciler-two-pass.js';
import { DocCounter, RssPeaks, Seeder } from './scale-data.js';

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
  benchCpuS: number;
  ok: boolean;
}

async function measure(variant: Variant, counter: DocCounter, storePid: number): Promise<Measured> {
  const docs = counter.docs;
  const commands = counter.commands;
  const cpu = cpuSeconds(storePid);
  const benchCpu = process.cpuUsage();
  const started = performance.now();
  const report = await variant.run();
  const seconds = (performance.now() - started) / 1000;
  return {
    seconds, entries: report.totals.entries, docs: counter.docs - docs, commands: counter.commands - commands,
    storeCpuS: cpuSeconds(storePid) - cpu, benchCpuS: cpuTotal(process.cpuUsage(benchCpu)), ok: report.ok,
  };
}

function cpuTotal(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1e6;
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
            `${(m.docs / m.entries).toFixed(2)} documents per entry, ${m.commands} commands, CPU per entry: store ${Math.round((m.storeCpuS * 1e6) / m.entries)} µs, ` +
            `reconciler ${Math.round((m.benchCpuS * 1e6) / m.entries)} µs${m.ok ? '' : ', FAULTS'}`,
        );
      }
    }
    const peaks = rss.take();

    // Does fetching fewer fields help the store? Each collection read whole, both ways, alternately.
    const collections = [
      { name: 'orders', model: orderModel(connection), fields: RECONCILE_FIELDS.orders },
      { name: 'ledger entries', model: ledgerEntryModel(connection), fields: RECONCILE_FIELDS.entries },
      { name: 'cards', model: cardModel(connection), fields: RECONCILE_FIELDS.cards },
    ] as const;
    type Sides = { store: number[]; bench: number[] };
    const projection: { name: string; whole: Sides; projected: Sides }[] = collections.map((c) => ({
      name: c.name, whole: { store: [], bench: [] }, projected: { store: [], bench: [] },
    }));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [i, c] of collections.entries()) {
        for (const projected of [false, true]) {
          const cpu = cpuSeconds(storePid);
          const benchCpu = process.cpuUsage();
          let n = 0;
          const query = projected ? (c.model as Model<object>).find({}, c.fields) : (c.model as Model<object>).find({});
          for await (const doc of query.lean().cursor({ batchSize: 500 })) if (doc) n++;
          const sides = projection[i]![projected ? 'projected' : 'whole'];
          sides.store.push(((cpuSeconds(storePid) - cpu) * 1e6) / n);
          sides.bench.push((cpuTotal(process.cpuUsage(benchCpu)) * 1e6) / n);
        }
      }
    }

    const summary = variants.map((v) => {
      const runs = results.get(v.name)!;
      return {
        name: v.name,
        entriesPerS: median(runs.map((m) => m.entries / m.seconds)),
        docsPerEntry: median(runs.map((m) => m.docs / m.entries)),
        storeUsPerDoc: median(runs.map((m) => (m.storeCpuS * 1e6) / m.docs)),
        storeUsPerEntry: median(runs.map((m) => (m.storeCpuS * 1e6) / m.entries)),
        benchUsPerEntry: median(runs.map((m) => (m.benchCpuS * 1e6) / m.entries)),
      };
    });
    const old = summary[0]!;
    process.stdout.write(`\nreconciliation of ${ORDERS} orders (${results.get(old.name)![0]!.entries} ledger entries), medians of ${ROUNDS} alternating runs, ${new Date().toISOString()}\n`);
    for (const s of summary) {
      process.stdout.write(
        `  ${s.name.padEnd(30)} ${String(Math.round(s.entriesPerS)).padStart(6)} entries/s  ${s.docsPerEntry.toFixed(2)} documents per entry  ` +
          `CPU per entry: store ${Math.round(s.storeUsPerEntry)} µs (${Math.round(s.storeUsPerDoc)} per document), reconciler ${Math.round(s.benchUsPerEntry)} µs; ` +
          `x${(s.entriesPerS / old.entriesPerS).toFixed(2)} entries/s, x${((old.storeUsPerEntry + old.benchUsPerEntry) / (s.storeUsPerEntry + s.benchUsPerEntry)).toFixed(2)} CPU\n`,
      );
    }
    process.stdout.write(`  peak RSS MB: store ${peaks.store ?? '?'}, bench (reconcilers) ${peaks.bench ?? '?'}\n`);
    process.stdout.write(`CPU per document read whole / with the reconciler's projection (medians of ${ROUNDS}):\n`);
    const us = (values: number[]) => Math.round(median(values));
    for (const p of projection) {
      process.stdout.write(
        `  ${p.name.padEnd(15)} store ${us(p.whole.store)} / ${us(p.projected.store)} µs, reader ${us(p.whole.bench)} / ${us(p.projected.bench)} µs, ` +
          `both ${us(p.whole.store) + us(p.whole.bench)} / ${us(p.projected.store) + us(p.projected.bench)} µs\n`,
      );
    }
    const first = summary[1]!;
    const cpuRatio = (old.storeUsPerEntry + old.benchUsPerEntry) / (first.storeUsPerEntry + first.benchUsPerEntry);
    process.stdout.write(
      `reconcile_orders=${ORDERS} old_entries_s=${Math.round(old.entriesPerS)} new_entries_s=${Math.round(first.entriesPerS)} ratio=${(first.entriesPerS / old.entriesPerS).toFixed(2)} ` +
        `cpu_ratio=${cpuRatio.toFixed(2)}\n`,
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
