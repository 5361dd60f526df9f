/**
 * The floor under the gateway's CPU per `/orders/check` (issue 12 asks for at most 1.5x what the
 * secure channel alone costs). One run measures, on the same machine and minute:
 *  1. the secure channel alone (bench/envelope-cost.ts: open a request, seal its answer);
 *  2. the real gateway process answering checks (express, its middleware, mongoose, logging,
 *     metrics, rate limits), its CPU per check from /proc;
 *  3. the floor: a process of this file (`--serve`) doing only what a check cannot do without, on
 *     node:http and the bare MongoDB driver: read the body, open it with the same src/jose, record
 *     the jti (one insert under a unique index, as the replay cache does), read the order by `_id`
 *     from the same store, seal the same answer, write it. No logging, metrics, rate limits,
 *     routing, validation or error handling.
 * Gateway and floor are measured alternately, BENCH_FLOOR_ROUNDS (3) times each, at 32 connections
 * with BENCH_FLOOR_REQUESTS (3000) requests sealed before each timed part. The floor's ratio is the
 * best any Node.js gateway on this machine could reach; the difference is what the gateway's own
 * stack costs. Each process's best round is compared (a shared machine only ever adds CPU time).
 * Ends with one line:
 * `channel_cpu_ms=… floor_cpu_ms=… gateway_cpu_ms=… floor_ratio=… gateway_ratio=…`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import mongoose from 'mongoose';
import {
  generateKeyPair,
  importPrivateKey,
  importPublicKey,
  openNested,
  privateJwk,
  publicJwk,
  signThenEncrypt,
  type Jwk,
} from '../src/jose/index.js';
import { toOrderView } from '../src/orders/order-view.js';
import type { Order } from '../src/orders/order-model.js';
import { cpuMsPerRequest, sampleCpu } from './cpu.js';
import { measureEnvelopeCost } from './envelope-cost.js';
import { runLoad, type PreparedRequest } from './load.js';
import { firstFinishedOrder, prepare, setUpPartner, startBenchStack } from './partner-setup.js';

const REQUESTS = Number(process.env.BENCH_FLOOR_REQUESTS ?? 3000);
const ROUNDS = Number(process.env.BENCH_FLOOR_ROUNDS ?? 3);
const CONNECTIONS = 32;
const CHECK_PATH = '/api/v1/orders/check';

/** What the parent hands the floor process. */
interface FloorSetup {
  uri: string;
  gatewayDecryption: Jwk;
  gatewaySigning: Jwk;
  partnerVerification: Jwk;
  partnerEncryption: Jwk;
  projectId: string;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The floor process: a check with nothing around it. */
async function serve(setup: FloorSetup): Promise<void> {
  const client = await new mongoose.mongo.MongoClient(setup.uri, { maxPoolSize: 50 }).connect();
  const db = client.db();
  const replay = db.collection<{ project_id: string; jti: string; expires_at: Date }>('floor_replay');
  await replay.createIndex({ project_id: 1, jti: 1 }, { unique: true });
  const orders = db.collection<Order>('orders');
  const decryption = { kid: 'floor-enc', alg: 'RSA-OAEP-256' as const, key: importPrivateKey(setup.gatewayDecryption, 'RSA-OAEP-256') };
  const verification = { kid: 'partner-sig', alg: 'PS256' as const, key: importPublicKey(setup.partnerVerification, 'PS256') };
  const signer = { kid: 'floor-sig', alg: 'EdDSA' as const, key: importPrivateKey(setup.gatewaySigning, 'EdDSA') };
  const recipient = { kid: 'partner-enc', alg: 'RSA-OAEP-256' as const, key: importPublicKey(setup.partnerEncryption, 'RSA-OAEP-256') };

  const answer = async (token: string): Promise<string> => {
    const opened = await openNested(token, () => decryption, () => Promise.resolve(verification));
    const { jti, iat, body } = opened.claims as { jti: string; iat: number; body: { order_id: string } };
    await replay.insertOne({ project_id: setup.projectId, jti, expires_at: new Date(iat * 1000 + 600_000) });
    const order = await orders.findOne({ _id: body.order_id });
    if (!order) throw new Error('order not found');
    const payload = { data: toOrderView(order, 2), iss: 'card-gateway', aud: setup.projectId, iat: Math.floor(Date.now() / 1000), req_jti: jti, status: 200, replayed: false };
    return signThenEncrypt(Buffer.from(JSON.stringify(payload), 'utf8'), signer, recipient);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      answer(Buffer.concat(chunks).toString('latin1')).then(
        (sealed) => res.writeHead(200, { 'content-type': 'application/jose' }).end(sealed),
        () => res.writeHead(500).end(),
      );
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
  });
  process.on('SIGTERM', () => {
    server.close();
    void client.close().then(() => process.exit(0));
  });
}

async function startFloor(setup: FloorSetup): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve'], {
    env: { ...process.env, FLOOR_SETUP: JSON.stringify(setup) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (line: Buffer) => resolve((JSON.parse(line.toString()) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the floor process exited with ${code}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

/** CPU ms per request of one process over one run at fixed concurrency; every answer must be a 200. */
async function cpuPerCheck(pid: number, url: string, requests: PreparedRequest[]): Promise<{ cpuMs: number; rps: number }> {
  const before = sampleCpu({ process: pid });
  const result = await runLoad({ url, path: CHECK_PATH, requests, connections: CONNECTIONS });
  const { process: cpuMs } = cpuMsPerRequest(before, sampleCpu({ process: pid }), result.sent, 3);
  if ((result.statuses['200'] ?? 0) !== requests.length) throw new Error(`not every check answered 200: ${JSON.stringify(result.statuses)}`);
  return { cpuMs: cpuMs!, rps: Math.round(result.rps) };
}

async function main(): Promise<void> {
  log('measuring what opening a request and sealing its answer cost...');
  const envelope = await measureEnvelopeCost();
  const channelMs = envelope.open_ms + envelope.seal_ms;

  const { work, store, connection, gateway } = await startBenchStack('floor');
  let floor: { child: ChildProcess; url: string } | undefined;
  try {
    const client = await setUpPartner(connection, gateway.url);
    const body = { order_id: await firstFinishedOrder(client) };

    // The floor's own keys, of the gateway's and the partner's kinds; its requests are sealed as the client seals.
    const [enc, sig, partnerSig, partnerEnc] = await Promise.all([
      generateKeyPair('RSA-OAEP-256'),
      generateKeyPair('EdDSA'),
      generateKeyPair('PS256'),
      generateKeyPair('RSA-OAEP-256'),
    ]);
    floor = await startFloor({
      uri: `${store.uri}card_gateway_floor`,
      gatewayDecryption: privateJwk(enc.privateKey),
      gatewaySigning: privateJwk(sig.privateKey),
      partnerVerification: publicJwk(partnerSig.publicKey),
      partnerEncryption: publicJwk(partnerEnc.publicKey),
      projectId: 'prj_floor',
    });
    const sealForFloor = async (count: number): Promise<PreparedRequest[]> => {
      const out: PreparedRequest[] = [];
      for (let i = 0; i < count; i++) {
        const claims = { iss: 'prj_floor', aud: 'card-gateway', iat: Math.floor(Date.now() / 1000), jti: randomUUID(), htm: 'POST', htu: CHECK_PATH, body };
        const token = await signThenEncrypt(
          Buffer.from(JSON.stringify(claims)),
          { kid: 'partner-sig', alg: 'PS256', key: partnerSig.privateKey },
          { kid: 'floor-enc', alg: 'RSA-OAEP-256', key: enc.publicKey },
        );
        out.push({ token });
      }
      return out;
    };
    const sealForGateway = (count: number) => prepare(client, CHECK_PATH, body, count, false);

    // Warm both (JIT, key caches, pooled connections) before anything is timed.
    await runLoad({ url: gateway.url, path: CHECK_PATH, requests: await sealForGateway(300), connections: CONNECTIONS });
    await runLoad({ url: floor.url, path: CHECK_PATH, requests: await sealForFloor(300), connections: CONNECTIONS });

    const gatewayRuns: number[] = [];
    const floorRuns: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const g = await cpuPerCheck(gateway.child.pid!, gateway.url, await sealForGateway(REQUESTS));
      log(`round ${round}: gateway ${g.cpuMs} ms CPU per check (${g.rps} checks/s)`);
      const f = await cpuPerCheck(floor.child.pid!, floor.url, await sealForFloor(REQUESTS));
      log(`round ${round}: floor ${f.cpuMs} ms CPU per check (${f.rps} checks/s)`);
      gatewayRuns.push(g.cpuMs);
      floorRuns.push(f.cpuMs);
    }
    const best = (runs: number[]) => Math.min(...runs);
    const gatewayMs = best(gatewayRuns);
    const floorMs = best(floorRuns);
    const ratio = (ms: number) => (ms / channelMs).toFixed(2);
    process.stdout.write(
      `process                           CPU ms per check   / secure channel\n` +
        `secure channel alone              ${channelMs.toFixed(3).padEnd(19)}1.00\n` +
        `floor (node:http, bare driver)    ${floorMs.toFixed(3).padEnd(19)}${ratio(floorMs)}\n` +
        `gateway                           ${gatewayMs.toFixed(3).padEnd(19)}${ratio(gatewayMs)}\n` +
        `(best of ${ROUNDS} alternating rounds each; every round's figures are above)\n` +
        `channel_cpu_ms=${channelMs.toFixed(3)} floor_cpu_ms=${floorMs.toFixed(3)} gateway_cpu_ms=${gatewayMs.toFixed(3)} ` +
        `floor_ratio=${ratio(floorMs)} gateway_ratio=${ratio(gatewayMs)}\n`,
    );
  } finally {
    floor?.child.kill('SIGTERM');
    gateway.child.kill('SIGTERM');
    await gateway.exited;
    await connection.close();
    await store.stop();
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--serve') {
  await serve(JSON.parse(process.env.FLOOR_SETUP ?? '{}') as FloorSetup);
} else {
  await main();
}
