/**
 * What every command-line script shares: opening the store the way the gateway does, turning
 * errors into messages and exit codes, and printing for people (default) or programs (--json).
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import type { Connection } from 'mongoose';
import type { Actor } from '../../src/back-office/audit-log.js';
import { registerBackOfficeModels } from '../../src/back-office/back-office.js';
import { ConfigError, loadConfig, type Config } from '../../src/config/config.js';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { connectDatabase } from '../../src/store/database.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded-store.js';

/** Exit codes shared by the scripts (reconcile adds 1 = differences found). */
export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3, conflict: 4, unavailable: 5 } as const;

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface StoreContext {
  config: Config;
  connection: Connection;
  close(): Promise<void>;
}

/**
 * Opens the database: MONGODB_URI when set; otherwise the embedded store of a running gateway
 * (found through its address file), or one started for this script and stopped when it ends.
 */
export async function openStore(options: { writes?: boolean } = {}): Promise<StoreContext> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig();
  let embedded: EmbeddedStore | undefined;
  let uri = config.MONGODB_URI;
  if (!uri) {
    embedded = await startEmbeddedStore({ dataDir: config.embeddedStoreDir, joinRunning: true });
    uri = embedded.uri;
  }
  try {
    const connection = await connectDatabase(uri);
    registerBackOfficeModels(connection);
    // A script that writes may be the first to touch a fresh database: the unique indexes that
    // make its writes exactly-once come first. Readers leave indexes alone (building one is the
    // gateway's job, and must not fail a reconciliation of a store whose data breaks one).
    if (options.writes) await Promise.all(Object.values(connection.models).map((m) => m.createIndexes()));
    return {
      config,
      connection,
      close: async () => {
        await connection.close();
        await embedded?.stop();
      },
    };
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
}

/** The person running a script, for the audit log: --as NAME, or the operating-system user. */
export function cliActor(as: string | undefined): Actor {
  const staff = as ?? `cli:${safeUser()}`;
  return { staff, via: 'cli', requestId: `cli-${process.pid}-${Date.now().toString(36)}` };
}

function safeUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** Runs node:util parseArgs (strict), turning its complaints into usage errors. */
export function parseCommandLine<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export function printJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

/** Runs a script's main and exits with its code; errors become a message and a meaningful code. */
export function runScript(main: () => Promise<number>, usage: string): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.exit(reportError(err, usage));
    },
  );
}

function reportError(err: unknown, usage: string): number {
  const write = (s: string) => process.stderr.write(`${s}\n`);
  if (err instanceof UsageError) {
    write(`error: ${err.message}\n`);
    write(usage);
    return EXIT.usage;
  }
  if (err instanceof ConfigError) {
    write(err.message);
    return EXIT.usage;
  }
  if (err instanceof GatewayError) {
    write(`error: ${err.slug}: ${err.message}`);
    for (const issue of err.details.issues ?? []) write(`  ${issue.path}: ${issue.message}`);
    if (err.slug === 'validation_error' || err.slug === 'webhook_url_refused') return EXIT.usage;
    if (err.status === 404) return EXIT.notFound;
    if (err.status === 409) return EXIT.conflict;
    return EXIT.failed;
  }
  const name = (err as { name?: string } | null)?.name ?? '';
  if (/MongoServerSelectionError|MongoNetworkError|StoreUnavailableError/.test(name)) {
    write(`error: the store is not reachable: ${(err as Error).message}`);
    return EXIT.unavailable;
  }
  write(`error: ${(err as Error)?.stack ?? String(err)}`);
  return EXIT.failed;
}

/** Reads a value that is inline JSON or `@path/to/file.json`. */
export async function jsonArgument(value: string, what: string): Promise<unknown> {
  const { readFile } = await import('node:fs/promises');
  const text = value.startsWith('@') ? await readFile(value.slice(1), 'utf8') : value;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UsageError(`${what} is not valid JSON`);
  }
}
