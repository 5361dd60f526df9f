import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import type { PartnerClient } from '@card-gateway/client';
import { connectDatabase } from '../src/store/database.js';
import { startEmbeddedStore, type EmbeddedStore } from '../src/store/embedded-store.js';
import { spawnGateway, waitUntil, type GatewayProcess } from '../test/support/gateway-process.js';
import { setUpProcessPartner } from '../test/support/process-partner.js';
import type { PreparedRequest } from './load.js';

export interface BenchStack {
  work: string;
  store: EmbeddedStore;
  storePid: number;
  connection: Connection;
  gateway: GatewayProcess;
}

/**
 * A fresh embedded store in a temporary folder and a real gateway process on it, with limits out of
 * the benchmark's way. `env` adds to (or overrides) the gateway's environment.
 */
export async function startBenchStack(label: string, env: Record<string, string> = {}): Promise<BenchStack> {
  const work = await mkdtemp(path.join(os.tmpdir(), `card-gateway-${label}-`));
  const store = await startEmbeddedStore({ dataDir: path.join(work, 'data') });
  const uri = `${store.uri}card_gateway_${label}`;
  const connection = await connectDatabase(uri);
  const storePid = (JSON.parse(await readFile(path.join(work, 'data', 'store-address.json'), 'utf8')) as { pid: number }).pid;
  const gateway = await spawnGateway({
    MONGODB_URI: uri,
    GATEWAY_KEYS_DIR: path.join(work, 'keys'),
    // No PROVIDER_URL: the gateway starts the provider simulator, a process of its own with its own journal.
    PROVIDER_SIM_DIR: path.join(work, 'provider-sim'),
    LOG_LEVEL: 'info', // as in production: one access-log line per request is part of the cost
    RATE_LIMIT_PER_ADDRESS: '10000000',
    // Requests are sealed before the timed part; a slow run must not age them out of the window.
    REQUEST_MAX_AGE_S: '3600',
    RATE_LIMIT_PER_PROJECT: '10000000',
    ...env,
  }).catch(async (err: unknown) => {
    // Leave nothing behind when the gateway does not start.
    await connection.close();
    await store.stop();
    await rm(work, { recursive: true, force: true });
    throw err;
  });
  return { work, store, storePid, connection, gateway };
}

/** A project with RSA-2048 keys (PS256 signatures, RSA-OAEP-256 answers), a product, a verified cardholder, funds. */
export async function setUpPartner(connection: Connection, url: string): Promise<PartnerClient> {
  return (await setUpProcessPartner(connection, url)).client;
}

/** One card order through the whole workflow (the order the checks read); its id once it has finished. */
export async function firstFinishedOrder(client: PartnerClient): Promise<string> {
  const first = await client.createCard({ product_code: 'BENCH_USD', external_user_id: 'bench-user', initial_balance: '1.00' });
  await waitUntil(
    async () => ['completed', 'failed'].includes((await client.checkOrder({ order_id: first.data.order_id })).data.status),
    30_000,
    'the first order to finish',
  );
  return first.data.order_id;
}

/** Seals `count` requests before the timed part (each with its own jti, and a fresh key if asked). */
export async function prepare(client: PartnerClient, urlPath: string, body: object, count: number, withKey: boolean): Promise<PreparedRequest[]> {
  const out: PreparedRequest[] = [];
  for (let i = 0; i < count; i++) {
    const idempotencyKey = withKey ? randomUUID() : undefined;
    out.push({ token: await client.seal(client.claims(urlPath, body, idempotencyKey)), idempotencyKey });
  }
  return out;
}
