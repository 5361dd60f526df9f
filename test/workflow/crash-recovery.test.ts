import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createGateway, type Gateway } from '../../src/app.js';
import { orderModel } from '../../src/orders/order-model.js';
import type { Product } from '../../src/products/product-model.js';
import type { Project } from '../../src/projects/project-model.js';
import type { SandboxRuleRequest } from '../../src/provider/sandbox-simulator.js';
import { spawnGateway, waitUntil, type GatewayProcess } from '../support/gateway-process.js';
import { testLogger } from '../support/log-capture.js';
import { assertExactlyOnce, childMongoUri, deposit, makeCardholder, makeProduct, makeProject } from '../support/orders-fixtures.js';
import { testConfig } from '../support/test-config.js';
import { testStore } from '../support/test-store.js';

/**
 * Real gateway processes on the test database, killed with SIGKILL in the middle of the workflow.
 * Orders are created by this process (worker off) and driven by the children's workers.
 */
describe('issuance under crashes and several processes', function () {
  this.timeout(240_000);
  const conn = () => testStore().connection;
  const cardDataKeys = `crash:${randomBytes(32).toString('base64')}`;
  let keysDir: string;
  let gateway: Gateway;
  let project: Project;
  let product: Product;
  const children: GatewayProcess[] = [];

  const scenarios: { rule: Partial<SandboxRuleRequest>; outcome: 'completed' | 'failed' }[] = [
    { rule: {}, outcome: 'completed' },
    { rule: {}, outcome: 'completed' },
    { rule: { create_card_failure: { failure: 'unavailable', times: 2 } }, outcome: 'completed' },
    { rule: { topup_result: 'fail' }, outcome: 'failed' },
    { rule: { topup_result: 'verify_fail' }, outcome: 'failed' },
    { rule: { create_card_failure: { failure: 'declined', times: 1 } }, outcome: 'failed' },
  ];
  let users: string[];
  const expected = new Map<string, 'completed' | 'failed'>();

  before(async () => {
    keysDir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-crash-'));
    gateway = await createGateway({
      config: testConfig({ CARD_DATA_KEYS: cardDataKeys, CARD_DATA_ACTIVE_KEY_ID: 'crash' }),
      logger: testLogger,
      connection: conn(),
    });
  });
  beforeEach(async () => {
    project = await makeProject(conn());
    product = await makeProduct(conn(), { issue_fee: 100 });
    await deposit(conn(), project._id, 10_000_000);
    users = [];
    for (const { rule } of scenarios) {
      const user = await makeCardholder(conn(), project._id);
      await gateway.orders.simulator!.setRule(project._id, { card_issue: 'auto', topup_result: 'succeed', ...rule, external_user_id: user });
      users.push(user);
    }
    expected.clear();
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      child.child.kill('SIGKILL');
      await child.exited;
    }
  });
  after(async () => {
    await rm(keysDir, { recursive: true, force: true });
  });

  async function createOrders(n: number): Promise<void> {
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const s = i % scenarios.length;
        const reply = await gateway.orders.handlers.createCard({
          project,
          body: { product_code: product.product_code, external_user_id: users[s], initial_balance: '2.00' },
          idempotencyKey: randomUUID(),
          requestId: 'crash-test',
        });
        expected.set((reply.data as { order_id: string }).order_id, scenarios[s]!.outcome);
      }),
    );
  }

  function start(extra: Record<string, string> = {}): Promise<GatewayProcess> {
    return spawnGateway({
      MONGODB_URI: childMongoUri(testStore().uri, testStore().dbName),
      GATEWAY_KEYS_DIR: keysDir,
      CARD_DATA_KEYS: cardDataKeys,
      CARD_DATA_ACTIVE_KEY_ID: 'crash',
      LOG_LEVEL: 'info',
      WORKER_POLL_MS: '50',
      WORKER_LEASE_MS: '1000',
      WORKER_CONCURRENCY: '8',
      PROVIDER_RETRY_BASE_MS: '10',
      PROVIDER_MAX_ATTEMPTS: '5',
      SANDBOX_LATENCY_MS: '25',
      ...extra,
    }).then((gw) => {
      children.push(gw);
      return gw;
    });
  }

  async function kill(gw: GatewayProcess): Promise<void> {
    gw.child.kill('SIGKILL');
    await gw.exited;
    children.splice(children.indexOf(gw), 1);
  }

  async function allTerminal(): Promise<boolean> {
    return (await orderModel(conn()).countDocuments({ project_id: project._id, status: { $in: ['new', 'activating', 'processing'] } })) === 0;
  }

  async function assertOutcomes(): Promise<void> {
    const orders = await orderModel(conn()).find({ project_id: project._id, order_type: 'card_issue' }).lean();
    const wrong = orders.filter((o) => expected.get(o._id) !== o.status).map((o) => `${o._id}: ${o.status}/${o.issue_status} ${o.last_error ?? ''}`);
    assert.deepEqual(wrong, [], 'every order ends as its scenario says, crashes or not');
  }

  it('when the gateway is SIGKILLed at random points of the workflow 20 times and restarted, then every order ends terminal with no double charge, refund or card', async () => {
    await createOrders(24);
    let kills = 0;
    let progressSeen = 0;
    for (; kills < 20; kills++) {
      const gw = await start();
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 400));
      await kill(gw);
      // Fresh work keeps arriving between crashes, so kills land at every step, not only late ones.
      await createOrders(3);
      progressSeen = await orderModel(conn()).countDocuments({ project_id: project._id, status: { $in: ['completed', 'failed'] } });
    }
    assert.ok(progressSeen > 0, 'the killed gateways made progress');
    await start();
    await waitUntil(allTerminal, 120_000, 'every order to reach a terminal state');
    const { completed, failed } = await assertExactlyOnce(conn(), project._id);
    await assertOutcomes();
    process.stdout.write(`      ${kills} kills; ${completed} completed, ${failed} failed, all exactly once\n`);
  });

  it('when two gateway processes work one database under parallel load, then the same invariants hold', async () => {
    await Promise.all([start(), start()]);
    await Promise.all([createOrders(30), createOrders(30)]);
    await waitUntil(allTerminal, 120_000, 'every order to reach a terminal state');
    const { completed, failed } = await assertExactlyOnce(conn(), project._id);
    await assertOutcomes();
    assert.equal(completed + failed, 60);
    process.stdout.write(`      two processes: ${completed} completed, ${failed} failed, all exactly once\n`);
  });
});
