/**
 * How long the command-line tools take to answer once the project is built: each command is run
 * BENCH_CLI_RUNS (5) times through npm, exactly as a person types it, and its median wall time is
 * printed. For comparison, what a compile step before each command would cost even with nothing to
 * compile (`tsc -b` finding everything up to date, and the full `tsc -p` every script used to run).
 *   npm run bench:cli
 * Exits 1 when a command's median is 1 s or more.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../src/store/project-root.js';

const RUNS = Number(process.env.BENCH_CLI_RUNS ?? 5);
const LIMIT_MS = 1000;
const root = projectRoot();
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * CPU seconds (user + system) of this process's finished children, from /proc (Linux): unlike wall
 * time it hardly grows when other work shares the machine. Undefined elsewhere.
 */
function childrenCpuMs(): number | undefined {
  if (!existsSync('/proc/self/stat')) return undefined;
  const fields = readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ');
  // cutime and cstime: fields 16 and 17 of stat(5), in clock ticks (100 per second on Linux).
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

interface Timing {
  wallMs: number;
  cpuMs: number | undefined;
}

function timed(command: string, args: string[]): Timing {
  const cpuBefore = childrenCpuMs();
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const cpuAfter = childrenCpuMs();
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  if (/building/.test(result.stderr)) throw new Error(`${args.join(' ')} compiled: build first (npm run build)`);
  return { wallMs, cpuMs: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function medianOf(runs: Timing[]): Timing {
  const cpu = runs.map((r) => r.cpuMs).filter((c): c is number => c !== undefined);
  return { wallMs: median(runs.map((r) => r.wallMs)), cpuMs: cpu.length === runs.length ? median(cpu) : undefined };
}

const keysDir = mkdtempSync(path.join(os.tmpdir(), 'card-gateway-bench-keys-'));
const commands: [string, string[]][] = [
  ['partner --help', ['run', '--silent', 'partner', '--', '--help']],
  ['partner:keygen (makes two key pairs)', ['run', '--silent', 'partner:keygen', '--', '--out', keysDir, '--force']],
  ['admin --help', ['run', '--silent', 'admin', '--', '--help']],
  ['orders --help', ['run', '--silent', 'orders', '--', '--help']],
  ['reconcile --help', ['run', '--silent', 'reconcile', '--', '--help']],
  ['demo --help', ['run', '--silent', 'demo', '--', '--help']],
];

try {
  // Built and current before anything is timed.
  spawnSync(process.execPath, [path.join(root, 'scripts', 'run-built.mjs'), '--build'], { cwd: root, stdio: 'inherit' });
  const load = os.loadavg()[0]!;
  const rows: [string, Timing][] = [];
  for (const [name, args] of commands) {
    timed(npm, args); // warm the file cache
    rows.push([`npm run ${name}`, medianOf(Array.from({ length: RUNS }, () => timed(npm, args)))]);
  }
  const tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
  const compileChecks: [string, Timing][] = [
    ['tsc -b, everything up to date (not run by the tools)', timed(process.execPath, [tsc, '-b'])],
    ['tsc -p tsconfig.json, nothing changed (not run by the tools)', timed(process.execPath, [tsc, '-p', 'tsconfig.json'])],
  ];
  const width = Math.max(...[...rows, ...compileChecks].map(([n]) => n.length));
  const line = ([name, t]: [string, Timing], flag = '') =>
    `  ${name.padEnd(width)}  ${t.wallMs.toFixed(0).padStart(6)} ms wall  ${t.cpuMs === undefined ? '' : `${t.cpuMs.toFixed(0).padStart(6)} ms CPU`}${flag}\n`;
  process.stdout.write(`command-line tools after a build: median of ${RUNS} runs (wall time, and CPU time of npm, node and the tool)\n`);
  for (const row of rows) process.stdout.write(line(row, row[1].wallMs >= LIMIT_MS ? '  (over 1 s)' : ''));
  process.stdout.write('what a compile step before each command would add:\n');
  for (const row of compileChecks) process.stdout.write(line(row));
  process.stdout.write(`load average ${load.toFixed(2)} at the start, ${os.loadavg()[0]!.toFixed(2)} at the end, on ${os.cpus().length} cores (a busy machine stretches wall time, not CPU time)\n`);
  process.exitCode = rows.some(([, t]) => t.wallMs >= LIMIT_MS) ? 1 : 0;
} finally {
  rmSync(keysDir, { recursive: true, force: true });
}
