import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cardModel, type Card } from '../../src/cards/card-model.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import type { ReconcileReport } from '../../src/reconcile/reconciler.js';
import { connectDatabase } from '../../src/store/database.js';
import { startEmbeddedStore } from '../../src/store/embedded-store.js';
import { webhookModels } from '../../src/webhooks/webhook-models.js';
import { spawnGateway, waitUntil, type GatewayProcess } from '../support/gateway-process.js';
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

  it('when the development gateway runs on the embedded store, then npm run demo issues a card end to end, masked, tops it up, freezes and unfreezes it, prints the webhook events it received, and reconciliation agrees', async () => {
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
    assert.match(demo.stdout, /Done: a card was issued end to end, topped up, frozen and unfrozen\./);
    assert.match(demo.stdout, /^0\. webhooks: receiver http:\/\/127\.0\.0\.1:\d+\/webhooks registered as the project's endpoint$/m);
    const cardId = /^ {3}card (card_\S+): active, USD/m.exec(demo.stdout)?.[1];
    assert.ok(cardId, demo.stdout);
    // Each card operation: its order, followed to completed, then the card as the partner lists it.
    for (const [title, type, status] of [
      ['4. top up: 10.00 USD from the master balance onto the card', 'card_topup', 'active'],
      ['5. freeze: the card', 'card_freeze', 'frozen'],
      ['6. unfreeze: the card', 'card_unfreeze', 'active'],
    ] as const) {
      const step = new RegExp(`^${title.replace(/\./g, '\\.')}\n {3}order (ord_\\S+) \\(${type}\\): \\w+\n(?: {3}.+\n)*? {3}completed / completed\n {3}card ${cardId}: ${status}, balance 35\\.00 USD$`, 'm');
      assert.match(demo.stdout, step);
    }
    assert.match(demo.stdout, new RegExp(`7\\. list: the newest cards of the project\\n {3}\\S+ {2}${cardId} {2}active {2}400000\\*{6}\\d{4} {2}balance 35\\.00 USD`));
    assert.match(demo.stdout, /8\. list: the newest orders of the project\n {3}\S+ {2}ord_\S+ {2}card_unfreeze {2}completed\n {3}\S+ {2}ord_\S+ {2}card_freeze {2}completed\n {3}\S+ {2}ord_\S+ {2}card_topup {2}completed\n {3}\S+ {2}ord_\S+ {2}card_issue {2}completed/);
    assert.match(demo.stdout, /9\. balance: 9964\.00 USD after ledger entry 3; the latest entries:\n {3}#3 {2}charge {2}-10\.00 {2}-> 9964\.00/);

    // The events: every order of the demo ended with its order.completed, each opened and printed once.
    const orderIds = [...demo.stdout.matchAll(/^ {3}order (ord_[^\s:]+)[: ]/gm)].map((m) => m[1]!);
    assert.equal(new Set(orderIds).size, 4, demo.stdout);
    assert.match(demo.stdout, /^10\. events: waiting for the final event of each of the 4 orders/m);
    const events = [...demo.stdout.matchAll(/^ {3}(order\.\w+|card\.\w+) {2}(order|card) (\S+) {2}(evt_\S+)$/gm)].map((m) => ({ type: m[1]!, subject: m[3]!, id: m[4]! }));
    for (const id of new Set(orderIds)) assert.ok(events.some((e) => e.subject === id && e.type === 'order.completed'), `order.completed of ${id} printed\n${demo.stdout}`);
    assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'each event printed once');
    assert.match(demo.stdout, /the project's webhook endpoint is disabled again/);

    // What the store holds: the card active again with the top-up on it, the demo's orders completed, the events delivered.
    const store = await startEmbeddedStore({ dataDir, joinRunning: true });
    const connection = await connectDatabase(store.uri);
    try {
      const card = await cardModel(connection).findById(cardId).lean<Card>();
      assert.deepEqual([card?.status, card?.balance], ['active', 3500]);
      const orders = await orderModel(connection).find({ _id: { $in: [...new Set(orderIds)] } }).lean<Order[]>();
      assert.deepEqual(orders.map((o) => [o.order_type, o.status]).sort(), [['card_freeze', 'completed'], ['card_issue', 'completed'], ['card_topup', 'completed'], ['card_unfreeze', 'completed']]);
      assert.equal(orders.find((o) => o.order_type === 'card_topup')?.data.amount, 1000);
      const { events: stored, endpoints } = webhookModels(connection);
      // The dispatcher records a delivery once the receiver answered, which may be just after the demo printed it.
      await waitUntil(async () => (await stored.countDocuments({ _id: { $in: events.map((e) => e.id) }, status: 'delivered' })) === events.length, 10_000, 'the printed events recorded as delivered');
      assert.equal((await endpoints.findOne({}).lean())?.status, 'disabled');
    } finally {
      await connection.close();
      await store.stop();
    }

    const report = await runScript('reconcile', ['--json', '--settle-s', '0'], env);
    assert.equal(report.code, 0, report.stdout + report.stderr);
    const parsed = JSON.parse(report.stdout) as ReconcileReport;
    assert.equal(parsed.provider_checked, true);
    assert.deepEqual(parsed.totals, { projects: 1, entries: 3, orders: 5, cards: 1, faults: 0 });
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
