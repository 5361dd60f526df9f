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
import { GatewayApiError } from '@card-gateway/client';
import { spawnGateway, waitUntil, type GatewayProcess } from '../support/gateway-process.js';
import { clientFor, createTestProject, type TestProject } from '../support/partner.js';
import { testLogger } from '../support/log-capture.js';
import { assertExactlyOnce, childMongoUri, deposit, makeCardholder, makeProduct } from '../support/orders-fixtures.js';
import { testConfig } from '../support/test-config.js';
import { testStore } from '../support/test-store.js';

/**
 * Real gateway processes on the test database, killed with SIGKILL in the middle of requests and of
 * the workflow. Orders arrive through the partner API of the child processes (some are cut off by
 * the kill and retried with the same key, as a partner would) and directly from this process.
 */
describe('issuance under crashes and several processes', function () {
  this.timeout(480_000);
  const conn = () => testStore().connection;
  const cardDataKeys = `crash:${randomBytes(32).toString('base64')}`;
  let keysDir: string;
  let gateway: Gateway;
  let project: Project;
  let partner: TestProject;
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
      // Generates the gateway keys the children will share, before any child starts.
      config: testConfig({ CARD_DATA_KEYS: cardDataKeys, CARD_DATA_ACTIVE_KEY_ID: 'crash', GATEWAY_KEYS_DIR: keysDir }),
      logger: testLogger,
      connection: conn(),
    });
    // Orders other suites left due would otherwise be the children's work too.
    await gateway.orders.worker.drain();
  });
  beforeEach(async () => {
    partner = await createTestProject({ url: 'http://127.0.0.1:1' });
    project = partner.project;
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

  interface Attempt {
    key: string;
    body: { product_code: string; external_user_id: string; initial_balance: string };
    outcome: 'completed' | 'failed';
  }

  /** Sends creates to a child while it may be killed; returns those that got no answer. */
  function sendCreates(gw: GatewayProcess, n: number): Promise<Attempt[]> {
    const client = clientFor(gw.url, project._id, partner.keys);
    return Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const s = (i + n) % scenarios.length;
        const attempt: Attempt = {
          key: randomUUID(),
          body: { product_code: product.product_code, external_user_id: users[s]!, initial_balance: '2.00' },
          outcome: scenarios[s]!.outcome,
        };
        try {
          const { data } = await client.createCard(attempt.body, { idempotencyKey: attempt.key });
          expected.set(data.order_id, attempt.outcome);
          return [];
        } catch (err) {
          if (err instanceof GatewayApiError) throw err;
          return [attempt]; // cut off by the kill: the partner does not know what happened
        }
      }),
    ).then((lists) => lists.flat());
  }

  /** The partner retries what got no answer, with the same key and body: one order each. */
  async function retry(gw: GatewayProcess, attempts: Attempt[]): Promise<void> {
    const client = clientFor(gw.url, project._id, partner.keys);
    for (const attempt of attempts) {
      const { data, status } = await client.createCard(attempt.body, { idempotencyKey: attempt.key });
      assert.equal(status, 201);
      expected.set(data.order_id, attempt.outcome);
    }
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
    await createOrders(18);
    let kills = 0;
    let progressSeen = 0;
    const unanswered: Attempt[] = [];
    for (; kills < 20; kills++) {
      const gw = await start();
      // Requests in flight when the kill lands, and workflow steps of earlier orders.
      const sending = sendCreates(gw, 3);
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 900));
      await kill(gw);
      unanswered.push(...(await sending));
      // Fresh work keeps arriving between crashes, so kills land at every step, not only late ones.
      await createOrders(2);
      progressSeen = await orderModel(conn()).countDocuments({ project_id: project._id, status: { $in: ['completed', 'failed'] } });
    }
    assert.ok(progressSeen > 0, 'the killed gateways made progress');
    const last = await start();
    await retry(last, unanswered);
    await waitUntil(allTerminal, 300_000, 'every order to reach a terminal state');
    const { completed, failed } = await assertExactlyOnce(conn(), project._id);
    await assertOutcomes();
    process.stdout.write(`      ${kills} kills, ${unanswered.length} requests cut off and retried; ${completed} completed, ${failed} failed, all exactly once\n`);
  });

  it('when two gateway processes work one database under parallel load, then the same invariants hold', async () => {
    const a = await start();
    const b = await start();
    const [cutA, cutB] = await Promise.all([sendCreates(a, 15), sendCreates(b, 15), createOrders(10)]);
    assert.deepEqual([...cutA, ...cutB], [], 'every request answered');
    await waitUntil(allTerminal, 300_000, 'every order to reach a terminal state');
    const { completed, failed } = await assertExactlyOnce(conn(), project._id);
    await assertOutcomes();
    assert.equal(completed + failed, 40);
    assert.equal(expected.size, 40);
    process.stdout.write(`      two processes: ${completed} completed, ${failed} failed, all exactly once\n`);
  });
});
