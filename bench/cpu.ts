import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * CPU time per process, read from /proc (Linux): how the benchmark shows where a request's time
 * goes, split between the gateway process and the store server, without a profiler's overhead.
 */
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** User plus system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is field 3, utime field 14, stime field 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

export type CpuSample = Record<string, number>;

export function sampleCpu(pids: Record<string, number>): CpuSample {
  return Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
}

/** Milliseconds of CPU per request, per process, between two samples, to `decimals` places. */
export function cpuMsPerRequest(before: CpuSample, after: CpuSample, requests: number, decimals = 2): CpuSample {
  const scale = 10 ** decimals;
  return Object.fromEntries(Object.keys(before).map((name) => [name, Math.round(((after[name]! - before[name]!) * 1000 * scale) / Math.max(1, requests)) / scale]));
}
