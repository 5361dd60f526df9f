import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isAlive, stopChild, waitForReadyLine } from './child-process.js';
import { ensureStoreServerBinary, StoreUnavailableError } from './store-server-binary.js';

/**
 * The embedded MongoDB-compatible store: FerretDB with SQLite, run as a child process
 * (store-server/main.go). The child locks its data folder, so two servers never share files, and
 * writes its address there, so scripts can use the store of a running gateway.
 */

export interface EmbeddedStore {
  uri: string;
  /** False when we joined a server another process started: stop() then leaves it running. */
  owned: boolean;
  stop(): Promise<void>;
}

/**
 * What to do when the server dies under us (SIGKILL, OOM, a crash): start it again on the same
 * address, so the driver's connections find it without a new URI, after a backoff that doubles
 * from `baseDelayMs` up to `maxDelayMs`. After `maxRestarts` restarts in a row that did not stay up
 * for `stableAfterMs`, `onGiveUp` is called (the gateway exits non-zero for its supervisor).
 */
export interface RestartPolicy {
  maxRestarts: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  stableAfterMs?: number;
  onRestart?: (event: { attempt: number; delayMs: number; exitCode: number | null; signal: NodeJS.Signals | null }) => void;
  onRestarted?: (event: { attempt: number }) => void;
  onGiveUp: (err: Error) => void;
}

const ADDRESS_FILE = 'store-address.json';
const START_TIMEOUT_MS = 60_000;

interface Address {
  pid: number;
  uri: string;
}

/** The address of a live server already serving `dataDir`, if any. */
export async function findRunningStore(dataDir: string): Promise<string | undefined> {
  try {
    const a = JSON.parse(await readFile(path.join(dataDir, ADDRESS_FILE), 'utf8')) as Address;
    return isAlive(a.pid) ? a.uri : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts a store server on `dataDir` and a free loopback port. With `joinRunning`, a server that
 * already serves the folder is used instead (command-line scripts beside a running gateway).
 */
export async function startEmbeddedStore(options: {
  dataDir: string;
  joinRunning?: boolean;
  log?: (msg: string) => void;
  /** Restart the server when it dies; without a policy a dead server stays dead. */
  restart?: RestartPolicy;
}): Promise<EmbeddedStore> {
  const { dataDir, log = () => {}, restart } = options;
  if (options.joinRunning) {
    const uri = await findRunningStore(dataDir);
    if (uri) return { uri, owned: false, stop: () => Promise.resolve() };
  }

  const binary = await ensureStoreServerBinary({ log });
  // stdin stays a pipe we never close: the child exits when it reads EOF, i.e. when we die.
  const spawnServer = (listen: string) => spawn(binary, ['-data', dataDir, '-listen', listen], { stdio: ['pipe', 'pipe', 'pipe'] });

  let child = spawnServer('127.0.0.1:0');
  const uri = await waitForReady(child);
  // Restarts listen where the first server did: the URI (and every pooled driver) stays valid.
  const listen = new URL(uri).host;
  let stopping = false;
  let restarts = 0;
  let startedAt = Date.now();

  const supervise = (server: ChildProcess): void => {
    server.once('exit', (exitCode, signal) => {
      if (stopping || !restart) return;
      if (Date.now() - startedAt >= (restart.stableAfterMs ?? 60_000)) restarts = 0;
      void restartAfterExit(restart, exitCode, signal);
    });
  };
  const restartAfterExit = async (policy: RestartPolicy, exitCode: number | null, signal: NodeJS.Signals | null): Promise<void> => {
    let lastError: Error = new StoreUnavailableError(`embedded store exited (code ${exitCode}, signal ${signal})`);
    while (!stopping) {
      if (restarts >= policy.maxRestarts) {
        policy.onGiveUp(new StoreUnavailableError(`embedded store did not stay up after ${restarts} restarts: ${lastError.message}`));
        return;
      }
      restarts += 1;
      const delayMs = Math.min((policy.baseDelayMs ?? 200) * 2 ** (restarts - 1), policy.maxDelayMs ?? 5000);
      policy.onRestart?.({ attempt: restarts, delayMs, exitCode, signal });
      await new Promise((r) => setTimeout(r, delayMs));
      if (stopping) return;
      const next = spawnServer(listen);
      try {
        await waitForReady(next);
      } catch (err) {
        lastError = err as Error;
        continue;
      }
      if (stopping) {
        next.kill('SIGTERM');
        return;
      }
      child = next;
      startedAt = Date.now();
      supervise(next);
      policy.onRestarted?.({ attempt: restarts });
      return;
    }
  };
  supervise(child);

  return {
    uri,
    owned: true,
    stop: () => {
      stopping = true;
      return stopChild(child, 10_000);
    },
  };
}

function waitForReady(child: ChildProcess): Promise<string> {
  return waitForReadyLine(child, 'embedded store', START_TIMEOUT_MS, (message) => new StoreUnavailableError(message));
}
