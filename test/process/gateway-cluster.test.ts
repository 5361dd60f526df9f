import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gatewayProcessCount } from '../../src/process/cluster.js';
import { isProcessAlive, spawnGateway, waitUntil, type GatewayProcess } from '../support/gateway-process.js';
import { childMongoUri } from '../support/orders-fixtures.js';
import { testStore } from '../support/test-store.js';

/** The gateway's processes on a remote store (GATEWAY_PROCESSES): one port, every worker a whole gateway. */
describe('gateway processes (node:cluster)', function () {
  this.timeout(120_000);
  let keysDir: string;
  let gateway: GatewayProcess | undefined;

  const workersOf = (pid: number): number[] => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };

  before(async () => {
    keysDir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-cluster-'));
  });
  after(async () => {
    if (gateway && gateway.child.exitCode === null) {
      gateway.child.kill('SIGKILL');
      await gateway.exited;
    }
    await rm(keysDir, { recursive: true, force: true });
  });

  it('when MONGODB_URI is set with GATEWAY_PROCESSES=2, then two workers serve one port, a dead one is replaced, and SIGTERM stops them all with 0', async () => {
    const { uri, dbName } = testStore();
    gateway = await spawnGateway({ MONGODB_URI: childMongoUri(uri, dbName), GATEWAY_PROCESSES: '2', GATEWAY_KEYS_DIR: keysDir, WORKER_ENABLED: 'false' });
    const primary = gateway.child.pid!;
    await waitUntil(() => gateway!.output.filter((l) => l.includes('"gateway listening"')).length >= 2, 60_000, 'both workers listening');
    const first = workersOf(primary);
    assert.equal(first.length, 2, 'two worker processes under the primary');
    for (let i = 0; i < 10; i++) assert.equal((await fetch(`${gateway.url}/readyz`)).status, 200);

    process.kill(first[0]!, 'SIGKILL');
    await waitUntil(() => {
      const now = workersOf(primary);
      return now.length === 2 && !now.includes(first[0]!);
    }, 60_000, 'a replacement worker');
    await waitUntil(() => gateway!.output.filter((l) => l.includes('"gateway listening"')).length >= 3, 60_000, 'the replacement listening');
    assert.equal((await fetch(`${gateway.url}/readyz`)).status, 200);

    const workers = workersOf(primary);
    gateway.child.kill('SIGTERM');
    const { code } = await gateway.exited;
    assert.equal(code, 0);
    for (const pid of workers) await waitUntil(() => !isProcessAlive(pid), 10_000, `worker ${pid} to exit`);
  });

  it('when the store is the embedded one, then one process serves whatever GATEWAY_PROCESSES says; 0 means one per core', () => {
    const provider = 'https://provider.example';
    assert.equal(gatewayProcessCount({ MONGODB_URI: undefined, PROVIDER_URL: provider, GATEWAY_PROCESSES: 8 }), 1);
    // The development gateway's provider simulator belongs to one process, as the embedded store does.
    assert.equal(gatewayProcessCount({ MONGODB_URI: 'mongodb://db', PROVIDER_URL: undefined, GATEWAY_PROCESSES: 8 }), 1);
    assert.equal(gatewayProcessCount({ MONGODB_URI: 'mongodb://db', PROVIDER_URL: provider, GATEWAY_PROCESSES: 3 }), 3);
    assert.equal(gatewayProcessCount({ MONGODB_URI: 'mongodb://db', PROVIDER_URL: provider, GATEWAY_PROCESSES: 0 }), os.availableParallelism());
  });
});
