import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createGateway, type Gateway } from '../../src/app.js';
import { cardModel } from '../../src/cards/card-model.js';
import { luhnValid } from '../../src/cards/luhn.js';
import { GatewayError } from '../../src/errors/gateway-error.js';
import type { Slug } from '../../src/errors/slugs.js';
import { orderIdFor } from '../../src/ids/ids.js';
import { orderModel, type IssueStatus, type Order } from '../../src/orders/order-model.js';
import type { Product } from '../../src/products/product-model.js';
import type { Project } from '../../src/projects/project-model.js';
import type { SandboxRuleRequest } from '../../src/provider/sandbox-simulator.js';
import { OrderQueue } from '../../src/workflow/order-queue.js';
import { testLogger } from '../support/log-capture.js';
import { assertChainIntact, chainOf, deposit, exactlyOnceReport, makeCardholder, makeProduct, makeProject } from '../support/orders-fixtures.js';
import { simulatorState } from '../support/provider-sim.js';
import { testConfig } from '../support/test-config.js';
import { testStore } from '../support/test-store.js';

describe('issuance workflow (provider simulator over HTTP, real store)', function () {
  this.timeout(30_000);
  const conn = () => testStore().connection;
  let gateway: Gateway;
  let project: Project;
  let product: Product;

  before(async () => {
    gateway = await createGateway({
      // One HTTP exchange per workflow attempt: the injected failures count workflow retries.
      config: testConfig({ PROVIDER_RETRY_BASE_MS: '5', PROVIDER_MAX_ATTEMPTS: '3', PROVIDER_HTTP_ATTEMPTS: '1', WORKER_POLL_MS: '10' }),
      logger: testLogger,
      connection: conn(),
    });
  });
  beforeEach(async () => {
    project = await makeProject(conn());
    product = await makeProduct(conn(), { issue_fee: 300 });
    await deposit(conn(), project._id, 10_000);
  });

  async function order(rule: Omit<SandboxRuleRequest, 'external_user_id' | 'card_issue' | 'topup_result'> & Partial<SandboxRuleRequest> = {}, initialBalance = '20.00') {
    const user = await makeCardholder(conn(), project._id);
    if (Object.keys(rule).length > 0) {
      await gateway.orders.simulator!.setRule(project._id, { card_issue: 'auto', topup_result: 'succeed', ...rule, external_user_id: user });
    }
    const reply = await gateway.orders.handlers.createCard({
      project,
      body: { product_code: product.product_code, external_user_id: user, initial_balance: initialBalance, label: 'Groceries' },
      idempotencyKey: randomUUID(),
      requestId: 'test',
    });
    return (reply.data as { order_id: string }).order_id;
  }

  const load = async (id: string) => (await orderModel(conn()).findById(id).lean<Order>())!;

  /** Drives the worker (not started in these tests) until the order stops moving or matches. */
  async function runUntil(id: string, done: (o: Order) => boolean = (o) => o.status === 'completed' || o.status === 'failed'): Promise<Order> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      await gateway.orders.worker.runOrder(id);
      const o = await load(id);
      if (done(o)) return o;
      if (Date.now() > deadline) throw new Error(`order stuck at ${o.status}/${o.issue_status}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  const check = async (id: string) => (await gateway.orders.handlers.checkOrder({ project, body: { order_id: id }, requestId: 't' })).data as Record<string, unknown>;
  const getCard = (body: unknown, p = project) => gateway.orders.handlers.getCard({ project: p, body, requestId: 't' });

  async function refunds(id: string) {
    return (await chainOf(conn(), project._id)).filter((e) => e.order_id === id && e.kind === 'refund').map((e) => e.amount);
  }

  it('when every step succeeds, then the order completes, is issued, and cards/get decrypts a Luhn-valid card', async () => {
    const id = await order();
    const done = await runUntil(id);
    assert.equal(done.status, 'completed');
    assert.equal(done.issue_status, 'completed');
    assert.equal(done.is_issued, true);
    assert.ok(done.completed_at);
    assert.deepEqual([done.balance_before, done.balance_after], [10_000, 7_700]);

    const view = await check(id);
    assert.deepEqual([view.status, view.balance_before, view.balance_after, view.is_issued], ['completed', '100.00', '77.00', true]);
    assert.equal(view.provider_card_status, 'active');

    const card = (await getCard({ order_id: id })).data as Record<string, unknown>;
    assert.equal(card.card_id, done.card_id);
    assert.ok(luhnValid(card.pan as string), 'Luhn-valid PAN');
    assert.match(card.cvv as string, /^\d{3}$/);
    assert.ok((card.expiry_year as number) > new Date().getUTCFullYear());
    assert.equal(card.masked_pan, `${(card.pan as string).slice(0, 6)}******${(card.pan as string).slice(-4)}`);
    assert.deepEqual([card.currency, card.product_code, card.label, card.status], ['USD', product.product_code, 'Groceries', 'active']);
    assert.deepEqual((await getCard({ card_id: done.card_id })).data, card);

    // Stored only sealed: neither the PAN nor the CVV appears in the card document.
    const raw = JSON.stringify(await conn().collection('cards').findOne({ order_id: id }));
    assert.ok(!raw.includes(card.pan as string));
    assert.equal(await providerBalance(done.provider_card_id!), 2000);
    assert.deepEqual(await refunds(id), []);
  });

  async function providerBalance(providerCardId: string) {
    return (await gateway.orders.provider.getCard(providerCardId)).balance;
  }

  it('when there is no initial balance, then the top-up is skipped and only the fee is charged', async () => {
    const user = await makeCardholder(conn(), project._id);
    const reply = await gateway.orders.handlers.createCard({ project, body: { product_code: product.product_code, external_user_id: user }, idempotencyKey: randomUUID(), requestId: 't' });
    const id = (reply.data as { order_id: string }).order_id;
    const done = await runUntil(id);
    assert.equal(done.status, 'completed');
    assert.equal(done.balance_after, 9_700);
    assert.equal(done.provider_topup_id, undefined);
  });

  it('when a card is held by the simulator, then the order waits at card_create_pending, card_not_ready, until the simulator issues it', async () => {
    const id = await order({ card_issue: 'hold' });
    const held = await runUntil(id, (o) => o.provider_card_status === 'issuing');
    assert.deepEqual([held.status, held.issue_status], ['activating', 'card_create_pending']);
    await gateway.orders.worker.runOrder(id);
    assert.equal((await load(id)).issue_status, 'card_create_pending', 'still held');
    await assert.rejects(getCard({ order_id: id }), (e: unknown) => e instanceof GatewayError && e.slug === 'card_not_ready');

    await gateway.orders.simulator!.settleHeldCard(project._id, id, 'active');
    const done = await runUntil(id);
    assert.equal(done.status, 'completed');
    assert.equal(done.is_issued, true);
  });

  const failures: [string, Partial<SandboxRuleRequest>, IssueStatus, Slug, (charge: number) => number][] = [
    ['the simulator fails a held card', { card_issue: 'hold' }, 'card_create_error', 'provider_declined', (total) => total],
    ['the provider declines the card', { create_card_failure: { failure: 'declined', times: 1 } }, 'card_create_error', 'provider_declined', (t) => t],
    ['card creation stays unavailable past the retries', { create_card_failure: { failure: 'unavailable', times: 3 } }, 'card_create_error', 'provider_unavailable', (t) => t],
    ['card creation times out past the retries', { create_card_failure: { failure: 'timeout', times: 5 } }, 'card_create_error', 'provider_timeout', (t) => t],
    ['the top-up is refused', { topup_result: 'fail' }, 'initial_topup_error', 'provider_declined', () => 2000],
    ['the top-up fails verification', { topup_result: 'verify_fail' }, 'initial_topup_verify_error', 'provider_declined', () => 2000],
  ];
  for (const [what, rule, issueStatus, slug, refund] of failures) {
    it(`when ${what}, then the order fails at ${issueStatus} with ${slug} and exactly the undelivered amount is refunded once`, async () => {
      const id = await order(rule);
      if (rule.card_issue === 'hold') {
        await runUntil(id, (o) => o.provider_card_status === 'issuing');
        await gateway.orders.simulator!.settleHeldCard(project._id, id, 'failed');
      }
      const done = await runUntil(id);
      assert.equal(done.status, 'failed');
      assert.equal(done.issue_status, issueStatus);
      assert.equal(done.last_error_slug, slug);
      assert.ok(done.failed_at && done.last_error);
      assert.equal(done.is_issued, false);
      assert.equal(done.rejected, false);
      assert.deepEqual(await refunds(id), [refund(2300)]);
      // Running the worker again changes nothing: the refund is once.
      await orderModel(conn()).updateOne({ _id: id }, { $set: { next_attempt_at: new Date() } });
      await gateway.orders.worker.runOrder(id);
      assert.deepEqual(await refunds(id), [refund(2300)]);
      const entries = await chainOf(conn(), project._id);
      assertChainIntact(entries);
      assert.equal(entries.at(-1)!.balance_after, 10_000 - 2300 + refund(2300));
      const view = await check(id);
      assert.deepEqual([view.status, view.last_error_slug, view.issue_status], ['failed', slug, issueStatus]);
    });
  }

  for (const failure of ['unavailable', 'timeout'] as const) {
    it(`when the initial top-up is ${failure} past the retry limit, then the order is not failed and refunded (the load may have happened): it asks again with the same key and completes with one load`, async () => {
      // PROVIDER_MAX_ATTEMPTS is 3: the old rule failed the order at the third.
      const id = await order({ topup_failure: { failure, times: 5 } });
      const done = await runUntil(id);
      assert.deepEqual([done.status, done.issue_status, done.is_issued], ['completed', 'completed', true]);
      assert.deepEqual(await refunds(id), []);
      const report = await exactlyOnceReport(conn(), project._id);
      assert.equal(report.providerCardsPerOrder.get(id), 1);
      const card = (await cardModel(conn()).findOne({ order_id: id }).lean())!;
      assert.equal((await simulatorState()).loads.filter((l) => l.cardId === card.provider_card_id).length, 1, 'one load at the provider');
    });
  }

  it('when the provider fails transiently fewer times than the limit, then the order retries with backoff and completes', async () => {
    const id = await order({ create_card_failure: { failure: 'unavailable', times: 2 }, topup_failure: { failure: 'timeout', times: 2 } });
    const done = await runUntil(id);
    assert.equal(done.status, 'completed');
    const report = await exactlyOnceReport(conn(), project._id);
    assert.equal(report.providerCardsPerOrder.get(id), 1);
    assert.deepEqual(await refunds(id), []);
  });

  it('when a crash left an order new and uncharged, then the worker charges it and carries it through', async () => {
    const user = await makeCardholder(conn(), project._id);
    const reply = await gateway.orders.handlers.createCard({ project, body: { product_code: product.product_code, external_user_id: user, initial_balance: '1.00' }, idempotencyKey: randomUUID(), requestId: 't' });
    const charged = await load((reply.data as { order_id: string }).order_id);
    assert.deepEqual([charged.balance_before, charged.balance_after], [10_000, 9_600]);
    // What a process that died between storing an order and charging it leaves behind: the
    // queue entry and the order (here a twin of the first under another key), and no charge.
    const key = randomUUID();
    const id = orderIdFor(project._id, key);
    const uncharged: Partial<Order> = { ...charged, _id: id, idempotency_key: key, status: 'new', next_attempt_at: new Date() };
    delete uncharged.balance_before;
    delete uncharged.balance_after;
    await new OrderQueue(conn()).add(id, new Date());
    await orderModel(conn()).collection.insertOne(uncharged as never);
    const done = await runUntil(id);
    assert.equal(done.status, 'completed');
    assert.deepEqual([done.balance_before, done.balance_after], [9_600, 9_200]);
    const report = await exactlyOnceReport(conn(), project._id);
    assert.equal(report.byOrderKind.get(`${id}:charge`), 1);
  });

  it('when orders/check or cards/get ask for another project\'s order or card, then order_not_found / card_not_found', async () => {
    const id = await order();
    const done = await runUntil(id);
    const other = await makeProject(conn());
    await assert.rejects(
      gateway.orders.handlers.checkOrder({ project: other, body: { order_id: id }, requestId: 't' }),
      (e: unknown) => e instanceof GatewayError && e.slug === 'order_not_found' && e.status === 404,
    );
    await assert.rejects(getCard({ card_id: done.card_id }, other), (e: unknown) => e instanceof GatewayError && e.slug === 'card_not_found');
    await assert.rejects(getCard({ order_id: id }, other), (e: unknown) => e instanceof GatewayError && e.slug === 'card_not_found');
    await assert.rejects(getCard({ card_id: 'card_nope' }), (e: unknown) => e instanceof GatewayError && e.slug === 'card_not_found');
    const byKey = await gateway.orders.handlers.checkOrder({ project, body: { idempotency_key: done.idempotency_key }, requestId: 't' });
    assert.equal((byKey.data as { order_id: string }).order_id, id);
    await assert.rejects(
      gateway.orders.handlers.checkOrder({ project, body: { order_id: id, idempotency_key: 'x' }, requestId: 't' }),
      (e: unknown) => e instanceof GatewayError && e.slug === 'validation_error',
    );
  });
});
