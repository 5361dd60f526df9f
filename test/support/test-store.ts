import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import { connectDatabase } from '../../src/store/database.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded-store.js';

/**
 * The database every test talks to: the embedded FerretDB in a temporary folder, or the server
 * named by MONGODB_URI. Each run uses its own database name and drops it at the end.
 */
export interface TestStore {
  uri: string;
  dbName: string;
  connection: Connection;
}

let embedded: EmbeddedStore | undefined;
let tempDir: string | undefined;
let current: TestStore | undefined;

export async function openTestStore(): Promise<TestStore> {
  let uri = process.env.MONGODB_URI;
  if (!uri) {
    tempDir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-test-'));
    embedded = await startEmbeddedStore({ dataDir: tempDir });
    uri = embedded.uri;
  }
  const dbName = `card_gateway_test_${process.pid}_${Date.now().toString(36)}`;
  const connection = await connectDatabase(uri, dbName);
  current = { uri, dbName, connection };
  return current;
}

export async function closeTestStore(): Promise<void> {
  if (current) {
    await current.connection.dropDatabase().catch(() => undefined);
    await current.connection.close();
  }
  await embedded?.stop();
  if (tempDir) await rm(tempDir, { recursive: true, force: true });
}

export function testStore(): TestStore {
  if (!current) throw new Error('test store is not open (root hooks did not run)');
  return current;
}
