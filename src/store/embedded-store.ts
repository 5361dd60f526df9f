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
}): Promise<EmbeddedStore> {
  const { dataDir, log = () => {} } = options;
  if (options.joinRunning) {
    const uri = await findRunningStore(dataDir);
    if (uri) return { uri, owned: false, stop: () => Promise.resolve() };
  }

  const binary = await ensureStoreServerBinary({ log });
  // stdin stays a pipe we never close: the child exits when it reads EOF, i.e. when we die.
  const child = spawn(binary, ['-data', dataDir, '-listen', '127.0.0.1:0'], { stdio: ['pipe', 'pipe', 'pipe'] });

  const uri = await waitForReady(child);
  return { uri, owned: true, stop: () => stopChild(child, 10_000) };
}

function waitForReady(child: ChildProcess): Promise<string> {
  return waitForReadyLine(child, 'embedded store', START_TIMEOUT_MS, (message) => new StoreUnavailableError(message));
}
