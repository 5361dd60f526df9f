import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import { createBackOffice } from '../../src/back-office/back-office.js';
import { GatewayApiError, GatewayResponseError } from '@card-gateway/client';
import { ledgerEntryModel, type LedgerEntry } from '../../src/ledger/ledger-entry-model.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { connectDatabase } from '../../src/store/database.js';
import { isProcessAlive, spawnGateway, waitUntil, type GatewayProcess } from '../support/gateway-process.js';
import { setUpProcessPartner, type ProcessPartner } from '../support/process-partner.js';

/**
 * A real gateway process on its own embedded store, under a steady mix of creates and checks. The
 * store process is killed (SIGKILL) and, separately, hung (SIGSTOP, then SIGCONT) in the middle of
 * the traffic. The partner retries every refused create with its idempotency key, as the contract
 * says. Afterwards every order is terminal, each charged once, refunded at most once and only when
 * it failed, and the ledger chain reconciles.
 */

/** One HTTP exchange as the partner's fetch saw it. */
interface Exchange {
  path: string;
  status: number | 'network_error';
  retryAfter: string | null;
  ms: number;
  startedAt: number;
}

// Bounds of the child gateway's store calls: the 503 must come within about their sum.
const SERVER_SELECTION_MS = 1500;
const SOCKET_MS = 2000;

describe('store faults under load', function () {
  this.timeout(300_000);
  let work: string;
  let dataDir: string;
  let gateway: GatewayProcess;
  let connection: Connection;
  let partner: ProcessPartner;
  const exchanges: Exchange[] = [];

  const recordingFetch: typeof fetch = async (input, init) => {
    const startedAt = Date.now();
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const entry: Exchange = { path: new URL(url).pathname, status: 'network_error', retryAfter: null, ms: 0, startedAt };
    try {
      const response = await fetch(input, init);
      entry.status = response.status;
      entry.retryAfter = response.headers.get('retry-after');
      return response;
    } finally {
      entry.ms = Date.now() - startedAt;
      exchanges.push(entry);
    }
  };

  async function storePid(): Promise<number> {
    return (JSON.parse(await readFile(path.join(dataDir, 'store-address.json'), 'utf8')) as { pid: number }).pid;
  }

  async function isReady(): Promise<boolean> {
    try {
      return (await fetch(`${gateway.url}/readyz`)).status === 200;
    } catch {
      return false;
    }
  }

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-faults-'));
    dataDir = path.join(work, 'data');
    gateway = await spawnGateway({
      EMBEDDED_STORE_DIR: dataDir,
      GATEWAY_KEYS_DIR: path.join(work, 'keys'),
      STORE_SERVER_SELECTION_TIMEOUT_MS: String(SERVER_SELECTION_MS),
      STORE_SOCKET_TIMEOUT_MS: String(SOCKET_MS),
      // A lease the store's death left behind is taken over soon.
      WORKER_LEASE_MS: '3000',
      RATE_LIMIT_PER_ADDRESS: '1000000',
      RATE_LIMIT_PER_PROJECT: '1000000',
    });
    const address = JSON.parse(await readFile(path.join(dataDir, 'store-address.json'), 'utf8')) as { uri: string };
    // The test's own view of the gateway's store (same database as the gateway's: the default).
    connection = await connectDatabase(address.uri);
    partner = await setUpProcessPartner(connection, gateway.url, { fetch: recordingFetch });
    const office = createBackOffice(connection);
    await office.cardholders.create({ staff: 'tests', via: 'cli', requestId: 'faults' }, partner.projectId, {
      external_user_id: 'pending-user',
      verification_status: 'pending',
    });
  });

  after(async () => {
    if (gateway) {
      // A store left stopped would keep its data folder busy.
      try {
        process.kill(await storePid(), 'SIGCONT');
      } catch {
        // already gone
      }
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
    await connection?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('when the store is killed and then hung mid-traffic, then requests answer 503 with Retry-After within seconds, the store comes back, and every order ends once, charged once', async () => {
    const answered = new Map<string, 201 | 422>();
    const unexpected: string[] = [];
    const orderIds: string[] = [];
    let stop = false;

    // Retries a create with its key until the gateway gives a final answer, as a partner would.
    const createOne = async (user: string): Promise<void> => {
      const key = randomUUID();
      for (;;) {
        try {
          const reply = await partner.client.createCard({ product_code: partner.productCode, external_user_id: user, initial_balance: '1.00' }, { idempotencyKey: key });
          answered.set(key, 201);
          orderIds.push(reply.data.order_id);
          return;
        } catch (err) {
          if (err instanceof GatewayApiError && err.status === 422) {
            answered.set(key, 422);
            return;
          }
          if (!isRetryable(err)) unexpected.push(explain(err));
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    const creator = async (user: string) => {
      while (!stop) await createOne(user);
    };
    const checker = async () => {
      while (!stop) {
        const orderId = orderIds[orderIds.length - 1];
        if (!orderId) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        try {
          await partner.client.checkOrder({ order_id: orderId });
        } catch (err) {
          if (!isRetryable(err)) unexpected.push(explain(err));
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    const created = () => [...answered.values()].filter((s) => s === 201).length;
    const traffic = Promise.all([creator(partner.externalUserId), creator(partner.externalUserId), creator('pending-user'), checker(), checker()]);

    try {
      // 1. SIGKILL mid-traffic: the gateway restarts its store on the same address.
      await waitUntil(() => created() >= 10, 60_000, 'the first orders');
      const killed = await storePid();
      process.kill(killed, 'SIGKILL');
      const killedAt = Date.now();
      await waitUntil(async () => (await storePid().catch(() => killed)) !== killed, 60_000, 'a new store process');
      await waitUntil(isReady, 60_000, '/readyz to answer ready after the restart');
      assert.ok(isProcessAlive(await storePid()));
      const afterKill = created();
      await waitUntil(() => created() >= afterKill + 10, 60_000, 'orders after the restart');

      // 2. SIGSTOP mid-traffic: calls are bounded, requests answer 503 while it hangs.
      const hung = await storePid();
      process.kill(hung, 'SIGSTOP');
      const stoppedAt = Date.now();
      const refusedWhileHung = () => exchanges.filter((e) => e.startedAt >= stoppedAt && e.status === 503 && e.path.startsWith('/api/'));
      try {
        await waitUntil(() => refusedWhileHung().length >= 6, 60_000, 'requests refused while the store hangs');
      } finally {
        process.kill(hung, 'SIGCONT');
      }
      await waitUntil(isReady, 60_000, '/readyz to answer ready after SIGCONT');
      const afterHang = created();
      await waitUntil(() => created() >= afterHang + 10, 60_000, 'orders after the hang');

      stop = true;
      await traffic;

      // Every refusal during the faults was a 503 with Retry-After, answered within the bounds.
      const refusals = exchanges.filter((e) => e.startedAt >= killedAt && e.status === 503);
      assert.ok(refusals.length > 0, 'the faults were seen by the partner');
      for (const r of refusals) assert.equal(r.retryAfter, '2', `a 503 on ${r.path} without Retry-After`);
      const bound = SERVER_SELECTION_MS + SOCKET_MS + 3000;
      const slowest = Math.max(...refusedWhileHung().map((r) => r.ms));
      assert.ok(slowest < bound, `a request waited ${slowest} ms for its 503 while the store hung (bound ${bound} ms)`);
      assert.deepEqual(unexpected, [], 'only 503s and refused connections while the store was away');
      process.stderr.write(`      store faults: ${refusals.length} answers 503 (slowest while hung ${slowest} ms), ${exchanges.length} exchanges\n`);
    } finally {
      stop = true;
      await traffic;
    }

    // Nothing lost or doubled: one order per answered key, every one terminal, charges and refunds once.
    const orders = orderModel(connection);
    const ours = { project_id: partner.projectId, order_type: 'card_issue' as const };
    await waitUntil(
      async () => (await orders.countDocuments({ ...ours, status: { $nin: ['completed', 'failed'] } })) === 0,
      180_000,
      'every order to finish',
    );
    const stored = await orders.find(ours).lean<Order[]>();
    assert.equal(stored.length, answered.size, 'one stored order per answered idempotency key');
    const byKey = new Map(stored.map((o) => [o.idempotency_key, o]));
    for (const [key, status] of answered) {
      const order = byKey.get(key);
      assert.ok(order, `the order of a ${status} answer is stored`);
      assert.equal(order.rejected, status === 422);
    }
    const entries = await ledgerEntryModel(connection).find({ project_id: partner.projectId }).lean<LedgerEntry[]>();
    const count = (orderId: string, kind: LedgerEntry['kind']) => entries.filter((e) => e.order_id === orderId && e.kind === kind).length;
    for (const order of stored) {
      assert.equal(count(order._id, 'charge'), order.rejected ? 0 : 1, `order ${order._id} (${order.status}) charged once`);
      const charged = !order.rejected;
      assert.equal(count(order._id, 'refund'), charged && order.status === 'failed' ? 1 : 0, `order ${order._id} (${order.status}) refunded only if failed`);
    }
    const charges = entries.filter((e) => e.kind === 'charge').length;
    assert.equal(charges, [...answered.values()].filter((s) => s === 201).length, 'ledger charges = created orders');
    assert.ok(charges >= 30, `enough traffic went through (${charges} charges)`);

    const report = await new Reconciler(connection).run({ stuckAfterS: 3600 });
    assert.equal(report.ok, true, `reconciliation: ${JSON.stringify(report.totals)}`);
  });
});

describe('store faults: when the store cannot be restarted', function () {
  this.timeout(120_000);

  it('when the embedded store dies and no restart is left, then the gateway exits with 1 for its supervisor', async () => {
    const work = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-giveup-'));
    try {
      const gateway = await spawnGateway({
        EMBEDDED_STORE_DIR: path.join(work, 'data'),
        GATEWAY_KEYS_DIR: path.join(work, 'keys'),
        EMBEDDED_STORE_MAX_RESTARTS: '0',
      });
      const { pid } = JSON.parse(await readFile(path.join(work, 'data', 'store-address.json'), 'utf8')) as { pid: number };
      process.kill(pid, 'SIGKILL');
      const { code } = await gateway.exited;
      assert.equal(code, 1);
      assert.ok(gateway.output.some((l) => l.includes('embedded store cannot be restarted; exiting')));
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

/** What a partner retries: 503 from the gateway, or no answer at all (a dropped connection). */
function isRetryable(err: unknown): boolean {
  if (err instanceof GatewayApiError) return err.status === 503;
  if (err instanceof GatewayResponseError) return err.status === 503;
  return err instanceof TypeError; // fetch failed: connection refused or reset
}

function explain(err: unknown): string {
  if (err instanceof GatewayApiError) return `${err.status} ${err.slug}`;
  if (err instanceof GatewayResponseError) return `${err.status} ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
