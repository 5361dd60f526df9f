/**
 * The gateway against the machine's cryptographic ceiling (issue 6). One run:
 *  1. the ceiling: RSA-OAEP-256 and ECDH-ES+A256KW unwraps per second on all cores, and what the
 *     secure channel alone (open a request, seal its answer) costs beside it;
 *  2. a real gateway process on a fresh embedded store, a project with RSA-2048 keys;
 *  3. /orders/check and /cards/create at fixed concurrency (their maximum rate), then at half of
 *     that rate, evenly paced (their latency under normal load);
 *  4. every answer's status counted, a sample opened and verified, the ledger chain checked;
 *  5. a table, a JSON file in bench/results/, and one summary line last.
 * Figures are ratios within this one run: the machine is shared and noisy.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PartnerClient } from '@card-gateway/client';
import { ledgerEntryModel } from '../src/ledger/ledger-entry-model.js';
import { Reconciler } from '../src/reconcile/reconciler.js';
import type { connectDatabase } from '../src/store/database.js';
import { projectRoot } from '../src/store/project-root.js';
import { queuedOrderModel } from '../src/workflow/order-queue.js';
import { waitUntil } from '../test/support/gateway-process.js';
import { measureCeiling } from './ceiling.js';
import { cpuMsPerRequest, sampleCpu, type CpuSample } from './cpu.js';
import { measureEnvelopeCost } from './envelope-cost.js';
import { firstFinishedOrder, prepare, setUpPartner, startBenchStack } from './partner-setup.js';
import { runLoad, runPaced, type LoadResult, type PreparedRequest } from './load.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const CHECK_REQUESTS = Number(process.env.BENCH_CHECK_REQUESTS ?? 6000);
const CREATE_REQUESTS = Number(process.env.BENCH_CREATE_REQUESTS ?? 3000);
const HALF_RATE_SECONDS = Number(process.env.BENCH_HALF_RATE_SECONDS ?? 8);

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function main(): Promise<void> {
  log('measuring the ceiling (node:crypto, every core)...');
  const ceilingRsa = await measureCeiling('RSA-OAEP-256', 3000);
  const ceilingEcdh = await measureCeiling('ECDH-ES+A256KW', 3000);
  log('measuring what opening a request and sealing its answer cost...');
  const envelope = await measureEnvelopeCost();
  // One unwrap's CPU: every core is busy for the whole second the ceiling counts.
  const unwrapCpuMs = (os.availableParallelism() * 1000) / ceilingRsa;

  const { work, store, storePid, connection, gateway } = await startBenchStack('bench', {
    // e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": profile the gateway under the benchmark's load.
    ...(process.env.BENCH_GATEWAY_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_GATEWAY_NODE_OPTIONS } : {}),
    // e.g. WEBHOOKS_ENABLED=false,WORKER_CONCURRENCY=8: what one setting costs, measured in the same way.
    ...gatewaySettings(process.env.BENCH_GATEWAY_ENV ?? ''),
  });

  try {
    const client = await setUpPartner(connection, gateway.url);

    const firstOrderId = await firstFinishedOrder(client);

    const seal = (p: string, body: object, count: number, withKey: boolean) => prepare(client, p, body, count, withKey);
    const pids = { gateway: gateway.child.pid!, store: storePid };
    // Creates are charged by the request and carried through by the worker afterwards: their CPU
    // is counted until the order queue is empty, so it is the whole cost of an order.
    const ordersSettled = () => waitUntil(async () => (await queuedOrderModel(connection).countDocuments()) === 0, 600_000, 'the created orders to finish');
    const check = await measureEndpoint('check', '/api/v1/orders/check', (n) => seal('/api/v1/orders/check', { order_id: firstOrderId }, n, false), CHECK_REQUESTS, gateway.url, pids);
    const create = await measureEndpoint(
      'create',
      '/api/v1/cards/create',
      (n) => seal('/api/v1/cards/create', { product_code: 'BENCH_USD', external_user_id: 'bench-user', initial_balance: '1.00' }, n, true),
      CREATE_REQUESTS,
      gateway.url,
      pids,
      ordersSettled,
    );

    const sampleOk = await openSample(client, [...check.max.bodies, ...create.max.bodies]);
    const ledger = await checkLedger(connection);
    const expectedCreates = 1 + (create.max.statuses['201'] ?? 0) + (create.half.statuses['201'] ?? 0);

    const summary = {
      machine: { cores: os.availableParallelism(), node: process.version },
      ceiling: { rsa_oaep_256_ops_s: Math.round(ceilingRsa), ecdh_es_a256kw_ops_s: Math.round(ceilingEcdh) },
      // A request's CPU in each process: the profile of where the time goes (the ceiling's unwrap
      // costs cores / ceiling ms of it).
      unwrap_cpu_ms: Math.round(unwrapCpuMs * 100) / 100,
      // The secure channel alone (no HTTP, no store): the best ratio a request could reach.
      envelope_cpu_ms: envelope,
      envelope_bound_ratio: Number((unwrapCpuMs / (envelope.open_ms + envelope.seal_ms)).toFixed(2)),
      check: {
        max: strip(check.max),
        half_rate: strip(check.half),
        ratio: check.max.rps / ceilingRsa,
        cpu_ms_per_request: check.cpuMs,
        cpu_vs_channel: Number(((check.cpuMs.gateway ?? 0) / (envelope.open_ms + envelope.seal_ms)).toFixed(2)),
      },
      create: { max: strip(create.max), half_rate: strip(create.half), ratio: create.max.rps / ceilingRsa, cpu_ms_per_request: create.cpuMs },
      correctness: {
        sampled_answers_opened_and_verified: sampleOk,
        orders_created: ledger.charges,
        creates_answered_201: expectedCreates,
        ledger_chain_intact: ledger.intact,
        ledger_entries: ledger.entries,
      },
    };
    await mkdir(path.join(projectRoot(), 'bench', 'results'), { recursive: true });
    const file = path.join(projectRoot(), 'bench', 'results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(file, `${JSON.stringify(summary, null, 2)}\n`);

    printTable(summary, ceilingRsa, check, create);
    process.stdout.write(
      `secure channel alone (ms CPU): open ${envelope.open_ms}, seal ${envelope.seal_ms}: at most ${Math.round(summary.envelope_bound_ratio * 100)}% of the ceiling before HTTP or the store\n`,
    );
    process.stdout.write(
      `CPU per request (ms): unwrap ${summary.unwrap_cpu_ms}; check: gateway ${check.cpuMs.gateway}, store ${check.cpuMs.store}; ` +
        `create (until its order finished): gateway ${create.cpuMs.gateway}, store ${create.cpuMs.store}\n`,
    );
    // Issue 12's target: the gateway's own CPU per check at most 1.5x what the secure channel alone costs.
    process.stdout.write(`check CPU in the gateway / the secure channel alone: ${summary.check.cpu_vs_channel}x\n`);
    process.stdout.write(`results: ${path.relative(projectRoot(), file)}\n`);
    process.stdout.write(
      `ceiling_rsa_ops_s=${Math.round(ceilingRsa)} check_rps=${Math.round(check.max.rps)} check_ratio=${summary.check.ratio.toFixed(2)} ` +
        `create_rps=${Math.round(create.max.rps)} create_ratio=${summary.create.ratio.toFixed(2)} ` +
        `p99_check_ms=${check.half.p99_ms} p99_create_ms=${create.half.p99_ms}\n`,
    );
    if (!ledger.intact || ledger.charges !== expectedCreates || !sampleOk) process.exitCode = 1;
  } finally {
    gateway.child.kill('SIGTERM');
    await gateway.exited;
    await connection.close();
    await store.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/** Maximum rate at fixed concurrency, then latency at half of that rate. */
async function measureEndpoint(
  name: string,
  urlPath: string,
  sealRequests: (n: number) => Promise<PreparedRequest[]>,
  count: number,
  url: string,
  pids: Record<string, number>,
  settled: () => Promise<void> = () => Promise.resolve(),
): Promise<{ max: LoadResult; half: LoadResult; cpuMs: CpuSample }> {
  log(`${name}: sealing ${count} requests...`);
  const requests = await sealRequests(count);
  const before = sampleCpu(pids);
  const max = await runLoad({ url, path: urlPath, requests, connections: CONNECTIONS, keepBodies: 50 });
  await settled();
  const cpuMs = cpuMsPerRequest(before, sampleCpu(pids), max.sent);
  log(`${name}: ${Math.round(max.rps)} req/s at ${CONNECTIONS} connections; CPU ms per request ${JSON.stringify(cpuMs)}`);
  const halfRate = Math.max(1, Math.floor(max.rps / 2));
  const halfCount = Math.max(50, halfRate * HALF_RATE_SECONDS);
  log(`${name}: sealing ${halfCount} requests for ${halfRate} req/s...`);
  const half = await runPaced({ url, path: urlPath, requests: await sealRequests(halfCount), rate: halfRate });
  log(`${name}: p99 ${half.p99_ms} ms at ${halfRate} req/s`);
  await settled();
  return { max, half, cpuMs };
}

/** Opens and verifies kept answers as the partner would: every one must be a sealed success. */
async function openSample(client: PartnerClient, bodies: { status: number; body: string }[]): Promise<boolean> {
  for (const { status, body } of bodies) {
    if (status !== 200 && status !== 201) return false;
    const payload = await client.open(body);
    if (!('data' in payload)) return false;
  }
  return bodies.length > 0;
}

/**
 * The store after the run: the reconciler's full check (chain links, charges against orders; orders
 * still in flight are left to settle), and the number of charges to compare with the 201 answers.
 */
async function checkLedger(connection: Awaited<ReturnType<typeof connectDatabase>>): Promise<{ intact: boolean; entries: number; charges: number }> {
  const report = await new Reconciler(connection).run({ stuckAfterS: 3600 });
  const charges = await ledgerEntryModel(connection).countDocuments({ kind: 'charge' });
  return { intact: report.ok, entries: report.totals.entries, charges };
}

function strip(r: LoadResult) {
  return { rps: Math.round(r.rps), p50_ms: r.p50_ms, p99_ms: r.p99_ms, sent: r.sent, errors: r.errors, statuses: r.statuses };
}

function printTable(
  summary: { ceiling: { rsa_oaep_256_ops_s: number; ecdh_es_a256kw_ops_s: number } },
  ceiling: number,
  check: { max: LoadResult; half: LoadResult },
  create: { max: LoadResult; half: LoadResult },
): void {
  const rows = [
    ['run', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'of RSA ceiling'],
    ...(
      [
        ['check, max', check.max],
        ['check, half rate', check.half],
        ['create, max', create.max],
        ['create, half rate', create.half],
      ] as const
    ).map(([name, r]) => [
      name,
      String(Math.round(r.rps)),
      String(r.p50_ms),
      String(r.p99_ms),
      String(r.errors),
      String(Object.entries(r.statuses).filter(([s]) => !s.startsWith('2')).reduce((a, [, n]) => a + n, 0)),
      `${((r.rps / ceiling) * 100).toFixed(0)}%`,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(
    `ceiling: RSA-OAEP-256 ${summary.ceiling.rsa_oaep_256_ops_s} unwraps/s, ECDH-ES+A256KW ${summary.ceiling.ecdh_es_a256kw_ops_s} unwraps/s (all cores)\n`,
  );
  for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ')}\n`);
}

await main();

/** `NAME=value,NAME=value` settings for the benchmark's gateway (BENCH_GATEWAY_ENV). */
function gatewaySettings(list: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const pair of list.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`BENCH_GATEWAY_ENV: expected NAME=value, got "${pair}"`);
    settings[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return settings;
}
