import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { testStore } from './test-store.js';

/**
 * A database of its own on the test server, for tests that query whole collections (lookups by
 * status alone, reconciliation of every project) and must not see other tests' rows.
 */
export async function isolatedDb(label: string): Promise<Connection> {
  const connection = testStore().connection.useDb(`${testStore().dbName}_${label}_${randomBytes(3).toString('hex')}`, { useCache: false });
  await connection.asPromise?.();
  return connection;
}

export async function dropIsolatedDb(connection: Connection): Promise<void> {
  await connection.dropDatabase().catch(() => undefined);
}

/** A MONGODB_URI naming this database, for child processes (scripts, gateways). */
export function uriOf(connection: Connection): string {
  const url = new URL(testStore().uri);
  url.pathname = `/${connection.name}`;
  return url.toString();
}
