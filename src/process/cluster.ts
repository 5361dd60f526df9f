import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';

/**
 * Several gateway processes on one port (node:cluster), so the gateway uses every core. Only with
 * a remote store (MONGODB_URI) and a real provider (PROVIDER_URL): the embedded store and the
 * provider simulator each belong to one process. Each worker is a whole
 * gateway (HTTP, issuance worker); claims and leases already make several processes safe.
 */
export function gatewayProcessCount(config: Pick<Config, 'MONGODB_URI' | 'PROVIDER_URL' | 'GATEWAY_PROCESSES'>): number {
  if (!config.MONGODB_URI || !config.PROVIDER_URL) return 1;
  return config.GATEWAY_PROCESSES === 0 ? os.availableParallelism() : config.GATEWAY_PROCESSES;
}

/** A worker that dies is replaced; more than this many deaths within a minute and the primary gives up. */
const MAX_DEATHS_PER_MINUTE = 10;

/**
 * The primary: forks `count` workers, replaces one that dies, forwards SIGTERM/SIGINT and exits
 * when they have all stopped (0), or 1 when workers keep dying (its supervisor restarts it).
 */
export function runPrimary(count: number, logger: Logger): void {
  let stopping = false;
  const deaths: number[] = [];
  const fork = (): Worker => cluster.fork();
  logger.info('starting gateway processes', { processes: count });
  for (let i = 0; i < count; i++) fork();

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        logger.info('stopped');
        process.exit(0);
      }
      return;
    }
    const now = Date.now();
    deaths.push(now);
    while (deaths.length > 0 && deaths[0]! < now - 60_000) deaths.shift();
    if (deaths.length > MAX_DEATHS_PER_MINUTE) {
      logger.error('gateway processes keep dying; exiting', { deaths_last_minute: deaths.length });
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
      process.exitCode = 1;
      setTimeout(() => process.exit(1), 15_000).unref();
      return;
    }
    logger.error('gateway process exited; starting another', { pid: worker.process.pid, code, signal });
    fork();
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      stopping = true;
      logger.info('shutting down', { signal });
      const workers = Object.values(cluster.workers ?? {});
      if (workers.length === 0) process.exit(0);
      // SIGTERM whatever came: after Ctrl-C the workers have had their own SIGINT from the
      // terminal, and a second one would kill them mid-shutdown; a SIGTERM joins the shutdown.
      for (const w of workers) w?.process.kill('SIGTERM');
    });
  }
}
