/**
 * Reconciliation from the command line (the back office's nightly job):
 *   npm run reconcile                      # every project, table, exit 1 on any difference
 *   npm run reconcile -- --json > report.json
 */
import { parseArgs } from 'node:util';
import { Reconciler, type Progress } from '../src/reconcile/reconciler.js';
import { reportTable } from '../src/reconcile/report-table.js';
import { EXIT, UsageError, openStore, out, parseCommandLine, printJson, runScript } from './lib/cli.js';
import { scriptProvider } from './lib/provider.js';

const USAGE = `Usage: npm run reconcile -- [options]

Walks every project's ledger chain (seq without gaps, balances linked and adding up, never
negative) and compares it with the orders (one charge per charged order, exactly the refund each
failed order is owed, deposits, no entry without its order), reports orders stuck longer than the
limit, and compares the cards in the store with the card provider: each card asked of it, and
(on a run over every project) the provider's whole card list, paged, for live cards the gateway
does not hold. Streams with cursors: constant memory over any history.

Options:
  --project ID          only this project (repeatable)
  --stuck-after-s N     an unfinished order untouched this long is stuck (default STUCK_ORDER_AFTER_S)
  --settle-s N          orders changed in the last N seconds are in flight and not compared (default 30)
  --max-faults N        faults listed in the report (counts are always complete; default 1000)
  --no-provider         do not ask the card provider about cards
  --json                the report as JSON on stdout
  -h, --help            this help

A progress line is drawn on stderr when stderr is a terminal.

Exit codes: 0 everything agrees, 1 differences found (the report names each), 2 bad arguments,
5 store unreachable.`;

const OPTIONS = {
  project: { type: 'string', multiple: true },
  'stuck-after-s': { type: 'string' },
  'settle-s': { type: 'string' },
  'max-faults': { type: 'string' },
  'no-provider': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function nonNegative(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${flag} must be a whole number >= 0`);
  return n;
}

async function main(): Promise<number> {
  const { values, positionals } = parseCommandLine(() => parseArgs({ args: process.argv.slice(2), options: OPTIONS, allowPositionals: true, strict: true }));
  if (values.help) {
    out(USAGE);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const stuckAfterS = nonNegative(values['stuck-after-s'], '--stuck-after-s');
  const settleS = nonNegative(values['settle-s'], '--settle-s');
  const maxFaults = nonNegative(values['max-faults'], '--max-faults');

  const store = await openStore();
  const progress = progressLine();
  let link: Awaited<ReturnType<typeof scriptProvider>> | undefined;
  try {
    link = values['no-provider'] ? undefined : await scriptProvider(store);
    const provider = link?.provider;
    const report = await new Reconciler(store.connection).run({
      stuckAfterS: stuckAfterS ?? store.config.STUCK_ORDER_AFTER_S,
      ...(settleS !== undefined && { settleS }),
      ...(maxFaults !== undefined && { maxFaults }),
      ...(values.project && { projectIds: values.project }),
      // The provider's whole card list is compared only on a run over every project.
      ...(provider && { provider, providerInventory: !values.project }),
      onProgress: progress.update,
    });
    progress.done();
    if (values.json) printJson(report);
    else out(reportTable(report));
    return report.ok ? EXIT.ok : EXIT.failed;
  } finally {
    progress.done();
    await link?.close();
    await store.close();
  }
}

/** One self-overwriting line on stderr, at most ten times a second; nothing when not a terminal. */
function progressLine(): { update: (p: Progress) => void; done: () => void } {
  const tty = process.stderr.isTTY;
  let last = 0;
  let drawn = false;
  return {
    update: (p) => {
      if (!tty) return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      const width = 20;
      const filled = Math.round(((p.project_index + 0.5) / p.projects) * width);
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
      process.stderr.write(`\r${bar} project ${p.project_index + 1}/${p.projects} ${p.project_id}: ${p.phase} ${p.done.toLocaleString('en-US')}\x1b[K`);
      drawn = true;
    },
    done: () => {
      if (drawn) process.stderr.write('\r\x1b[K');
      drawn = false;
    },
  };
}

runScript(main, USAGE);
