import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ReconcileReport } from '../../src/reconcile/reconciler.js';
import { spawnGateway, type GatewayProcess } from '../support/gateway-process.js';
import { runScript } from '../support/run-script.js';

describe('the quickstart demo against a real gateway process', function () {
  this.timeout(180_000);
  let dataDir: string;
  let gateway: GatewayProcess | undefined;

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-demo-'));
  });
  after(async () => {
    if (gateway) {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  it('when the development gateway runs on the embedded store, then npm run demo issues a card end to end, masked, and reconciliation agrees', async () => {
    const keysDir = path.join(dataDir, 'keys');
    // No provider configured: the gateway starts the provider simulator, which reconcile then joins.
    const env = { NODE_ENV: 'development', EMBEDDED_STORE_DIR: dataDir, GATEWAY_KEYS_DIR: keysDir, PROVIDER_URL: '', PROVIDER_SIM_DIR: path.join(dataDir, 'provider-sim') };
    gateway = await spawnGateway({ ...env, WORKER_POLL_MS: '50' });
    assert.ok(gateway.output.some((l) => l.includes('demo partner ready')), 'the gateway bootstrapped the demo partner');

    const demo = await runScript('demo', [], { ...env, GATEWAY_URL: gateway.url });
    assert.equal(demo.code, 0, demo.stdout + demo.stderr);
    const lines = demo.stdout.split('\n');
    assert.ok(lines.some((l) => l.startsWith('1. create:')));
    // The worker may already have moved the order on when the create answer is read.
    assert.ok(lines.some((l) => /^ {3}order ord_\S+: (new|activating|processing|completed); charged 26\.00 USD, balance 10000\.00 -> 9974\.00$/.test(l)), demo.stdout);
    assert.ok(lines.some((l) => l.startsWith('2. check:')));
    assert.ok(lines.some((l) => /completed \/ completed$/.test(l)), demo.stdout);
    assert.ok(lines.some((l) => l.startsWith('3. get:')));
    assert.match(demo.stdout, /number 4000 00\*\* \*\*\*\* \d{4} {2}\(masked/);
    assert.doesNotMatch(demo.stdout, /\d{13,19}/, 'no full card number printed');
    assert.match(demo.stdout, /Done: a card was issued end to end\./);
    assert.match(demo.stdout, /4\. list: the newest orders of the project\n {3}\S+ {2}ord_\S+ {2}card_issue {2}completed/);
    assert.match(demo.stdout, /5\. balance: \d+\.\d{2} USD after ledger entry \d+; the latest entries:\n {3}#\d+ {2}charge {2}-/);

    const report = await runScript('reconcile', ['--json', '--settle-s', '0'], env);
    assert.equal(report.code, 0, report.stdout + report.stderr);
    const parsed = JSON.parse(report.stdout) as ReconcileReport;
    assert.equal(parsed.provider_checked, true);
    assert.deepEqual(parsed.totals, { projects: 1, entries: 2, orders: 2, cards: 1, faults: 0 });
  });

  it('when the gateway is not running, then the demo says so and exits 5', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const demo = await runScript('demo', [], { NODE_ENV: 'development', GATEWAY_KEYS_DIR: path.join(dataDir, 'keys'), GATEWAY_URL: `http://127.0.0.1:${closedPort}` });
    assert.equal(demo.code, 5, demo.stdout + demo.stderr);
    assert.match(demo.stderr, /The gateway is not reachable/);
  });
});
