import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { luhnValid } from '../../src/cards/luhn.js';
import { GatewayApiError, type CardIssueOrder, type PartnerClient } from '@card-gateway/client';
import type { Slug } from '../../src/errors/slugs.js';
import { ledgerEntryModel } from '../../src/ledger/ledger-entry-model.js';
import { orderModel } from '../../src/orders/order-model.js';
import type { Product } from '../../src/products/product-model.js';
import type { Project } from '../../src/projects/project-model.js';
import { registerSecret } from '../support/log-audit.js';
import { assertChainIntact, assertExactlyOnce, chainOf, deposit, makeCardholder, makeProduct, uniq } from '../support/orders-fixtures.js';
import { clientFor, createTestProject, expectApiError, startTestGateway, type TestGateway, type TestProject } from '../support/partner.js';
import { testStore } from '../support/test-store.js';

/** The orders API end to end: the partner client, the secure channel, the worker, the real store. */
describe('card orders through the partner API', function () {
  this.timeout(60_000);
  const conn = () => testStore().connection;
  let tg: TestGateway;
  let tp: TestProject;
  let client: PartnerClient;
  let project: Project;
  let product: Product;
  let userId: string;

  before(async () => {
    tg = await startTestGateway({
      config: {
        WORKER_ENABLED: 'true',
        WORKER_POLL_MS: '20',
        PROVIDER_RETRY_BASE_MS: '5',
        PROVIDER_MAX_ATTEMPTS: '3',
        // One HTTP exchange per workflow attempt: the simulator's injected failures count workflow retries.
        PROVIDER_HTTP_ATTEMPTS: '1',
        RATE_LIMIT_PER_ADDRESS: '1000000',
        RATE_LIMIT_PER_PROJECT: '1000000',
      },
    });
    await tg.gateway.start();
  });
  after(async () => {
    await tg.close();
  });
  beforeEach(async () => {
    tp = await createTestProject({ url: tg.url });
    ({ client, project } = tp);
    product = await makeProduct(conn(), { issue_fee: 250 });
    userId = await makeCardholder(conn(), project._id);
    await deposit(conn(), project._id, 10_000);
  });

  const apiError = expectApiError;

  async function untilTerminal(orderId: string): Promise<CardIssueOrder> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { data } = await client.checkOrder({ order_id: orderId });
      if (data.status === 'completed' || data.status === 'failed') return data;
      if (Date.now() > deadline) throw new Error(`order stuck at ${data.status}/${data.issue_status}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  const sandbox = (path: string, body: unknown) => client.call(`/api/v1/sandbox/${path}`, body);
  const refundsOf = async (orderId: string) =>
    (await ledgerEntryModel(conn()).find({ order_id: orderId, kind: 'refund' }).lean()).map((e) => e.amount);

  describe('every slug of the create table, by a real request', () => {
    it('400s: idempotency_key_required, validation_error, external_user_id_required; nothing stored', async () => {
      const before = await orderModel(conn()).countDocuments({ project_id: project._id });
      const noKey = await apiError(client.call('/api/v1/cards/create', { product_code: product.product_code, external_user_id: userId }));
      assert.deepEqual([noKey.slug, noKey.status], ['idempotency_key_required', 400]);
      const shape = await apiError(client.call('/api/v1/cards/create', { product_code: product.product_code, external_user_id: userId, initial_balance: 12 }, { idempotencyKey: randomUUID() }));
      assert.deepEqual([shape.slug, shape.status, shape.issues?.[0]?.path], ['validation_error', 400, 'initial_balance']);
      const noUser = await apiError(client.call('/api/v1/cards/create', { product_code: product.product_code }, { idempotencyKey: randomUUID() }));
      assert.deepEqual([noUser.slug, noUser.status], ['external_user_id_required', 400]);
      assert.equal(await orderModel(conn()).countDocuments({ project_id: project._id }), before);
    });

    const cases: [Slug, () => Promise<Record<string, unknown>>][] = [
      ['product_not_found', () => Promise.resolve({ product_code: uniq('NOPE'), external_user_id: userId })],
      ['product_not_active', async () => ({ product_code: (await makeProduct(conn(), { active: false })).product_code, external_user_id: userId })],
      ['cardholder_not_found', () => Promise.resolve({ product_code: product.product_code, external_user_id: 'nobody' })],
      ['cardholder_not_ready', async () => ({ product_code: product.product_code, external_user_id: await makeCardholder(conn(), project._id, 'pending') })],
      ['cardholder_rejected', async () => ({ product_code: product.product_code, external_user_id: await makeCardholder(conn(), project._id, 'rejected') })],
      ['invalid_pricing', async () => ({ product_code: (await makeProduct(conn(), { issue_fee: -100 })).product_code, external_user_id: userId })],
      ['card_product_limits_invalid', async () => ({ product_code: (await makeProduct(conn(), { initial_balance_min: 500, initial_balance_max: 100 })).product_code, external_user_id: userId })],
      ['amount_below_minimum', async () => ({ product_code: (await makeProduct(conn(), { initial_balance_min: 500 })).product_code, external_user_id: userId, initial_balance: '4.99' })],
      ['amount_above_maximum', () => Promise.resolve({ product_code: product.product_code, external_user_id: userId, initial_balance: '1000.01' })],
      ['insufficient_funds', () => Promise.resolve({ product_code: product.product_code, external_user_id: userId, initial_balance: '97.51' })],
    ];
    for (const [slug, body] of cases) {
      it(`422 ${slug}: the failed order is stored with the slug, found by orders/check, and nothing is charged`, async () => {
        const chainBefore = (await chainOf(conn(), project._id)).length;
        const err = await apiError(client.createCard((await body()) as never));
        assert.deepEqual([err.slug, err.status, err.sealed], [slug, 422, true]);
        assert.ok(err.order_id);
        const stored = await orderModel(conn()).findById(err.order_id).lean();
        assert.deepEqual([stored?.status, stored?.last_error_slug, stored?.rejected, stored?.project_id], ['failed', slug, true, project._id]);
        const { data } = await client.checkOrder({ order_id: err.order_id });
        assert.deepEqual([data.status, data.last_error_slug, data.balance_after], ['failed', slug, null]);
        assert.equal((await chainOf(conn(), project._id)).length, chainBefore, 'nothing charged');
      });
    }
  });

  it('when an order is issued, then it completes with its balance snapshots and cards/get returns a Luhn-valid card, card_not_ready before', async () => {
    await sandbox('rules/set', { external_user_id: userId, card_issue: 'hold' });
    const created = await client.createCard({ product_code: product.product_code, external_user_id: userId, initial_balance: '40.00', label: 'Ads', external_id: 'po-7' });
    assert.equal(created.status, 201);
    assert.deepEqual([created.data.balance_before, created.data.balance_after, created.data.external_id], ['100.00', '57.50', 'po-7']);
    const orderId = created.data.order_id;

    const deadline = Date.now() + 20_000;
    while ((await client.checkOrder({ order_id: orderId })).data.provider_card_status !== 'issuing') {
      if (Date.now() > deadline) throw new Error('the card was never held');
      await new Promise((r) => setTimeout(r, 25));
    }
    const notReady = await apiError(client.getCard({ order_id: orderId }));
    assert.deepEqual([notReady.slug, notReady.status], ['card_not_ready', 409]);
    await sandbox('cards/issue', { order_id: orderId });

    const done = await untilTerminal(orderId);
    assert.deepEqual([done.status, done.issue_status, done.is_issued, done.balance_before, done.balance_after], ['completed', 'completed', true, '100.00', '57.50']);
    assert.ok(done.completed_at && done.card_id);
    const card = (await client.getCard({ card_id: done.card_id })).data;
    registerSecret(card.pan);
    assert.ok(luhnValid(card.pan), 'Luhn-valid PAN');
    assert.match(card.cvv, /^\d{3}$/);
    assert.deepEqual([card.card_id, card.currency, card.product_code, card.external_user_id, card.label], [done.card_id, 'USD', product.product_code, userId, 'Ads']);
    assert.deepEqual((await client.getCard({ order_id: orderId })).data, card);
    assert.equal((await apiError(client.getCard({ card_id: 'card_unknown' }))).slug, 'card_not_found');
    await assertExactlyOnce(conn(), project._id);
  });

  const failures: [string, Record<string, unknown>, string, Slug, number][] = [
    ['card creation is declined', { create_card_failure: { failure: 'declined', times: 1 } }, 'card_create_error', 'provider_declined', 1250],
    ['card creation stays unavailable', { create_card_failure: { failure: 'unavailable', times: 3 } }, 'card_create_error', 'provider_unavailable', 1250],
    ['card creation times out', { create_card_failure: { failure: 'timeout', times: 3 } }, 'card_create_error', 'provider_timeout', 1250],
    ['the held card is failed by the simulator', { card_issue: 'hold' }, 'card_create_error', 'provider_declined', 1250],
    ['the top-up is refused', { topup_result: 'fail' }, 'initial_topup_error', 'provider_declined', 1000],
    ['the top-up fails verification', { topup_result: 'verify_fail' }, 'initial_topup_verify_error', 'provider_declined', 1000],
  ];
  for (const [what, rule, issueStatus, slug, refund] of failures) {
    it(`when ${what}, then the order fails at ${issueStatus} with ${slug} and ${refund / 100} is refunded exactly once`, async () => {
      await sandbox('rules/set', { external_user_id: userId, ...rule });
      const { data } = await client.createCard({ product_code: product.product_code, external_user_id: userId, initial_balance: '10.00' });
      if (rule.card_issue === 'hold') {
        const deadline = Date.now() + 20_000;
        for (;;) {
          try {
            await sandbox('cards/fail', { order_id: data.order_id });
            break;
          } catch (err) {
            if (!(err instanceof GatewayApiError && err.slug === 'card_not_found') || Date.now() > deadline) throw err;
            await new Promise((r) => setTimeout(r, 25));
          }
        }
      }
      const done = await untilTerminal(data.order_id);
      assert.deepEqual([done.status, done.issue_status, done.last_error_slug, done.is_issued], ['failed', issueStatus, slug, false]);
      assert.ok(done.failed_at && done.last_error);
      assert.deepEqual(await refundsOf(data.order_id), [refund]);
      const entries = await chainOf(conn(), project._id);
      assertChainIntact(entries);
      assert.equal(entries.at(-1)!.balance_after, 10_000 - 1250 + refund);
      await assertExactlyOnce(conn(), project._id);
    });
  }

  describe('idempotency', () => {
    it('when a request is replayed, then the same order comes back with Idempotent-Replayed; another body is idempotency_key_reused', async () => {
      const key = randomUUID();
      const body = { product_code: product.product_code, external_user_id: userId };
      const first = await client.createCard(body, { idempotencyKey: key });
      const again = await client.createCard(body, { idempotencyKey: key });
      assert.equal(first.idempotentReplayed, false);
      assert.equal(again.idempotentReplayed, true);
      assert.equal(again.status, 201);
      assert.equal(again.data.order_id, first.data.order_id);
      const reused = await apiError(client.createCard({ ...body, label: 'other' }, { idempotencyKey: key }));
      assert.deepEqual([reused.slug, reused.status], ['idempotency_key_reused', 409]);
      const byKey = await client.checkOrder({ idempotency_key: key });
      assert.equal(byKey.data.order_id, first.data.order_id);
    });

    it('when a refused request is replayed, then the same 422 and order_id come back with Idempotent-Replayed: true', async () => {
      const headers: (string | null)[] = [];
      const watching = clientFor(tg.url, project._id, tp.keys, {
        fetch: async (input, init) => {
          const response = await fetch(input, init);
          if (requestUrl(input).endsWith('/cards/create')) headers.push(response.headers.get('idempotent-replayed'));
          return response;
        },
      });
      const key = randomUUID();
      const body = { product_code: product.product_code, external_user_id: 'nobody' };
      const first = await apiError(watching.createCard(body, { idempotencyKey: key }));
      const again = await apiError(watching.createCard(body, { idempotencyKey: key }));
      assert.deepEqual([again.slug, again.status, again.order_id], ['cardholder_not_found', 422, first.order_id]);
      assert.deepEqual(headers, [null, 'true']);
    });

    it('when another project asks for this project\'s order or card, then order_not_found / card_not_found', async () => {
      const { data } = await client.createCard({ product_code: product.product_code, external_user_id: userId });
      const done = await untilTerminal(data.order_id);
      const other = await createTestProject({ url: tg.url });
      assert.equal((await apiError(other.client.checkOrder({ order_id: data.order_id }))).slug, 'order_not_found');
      assert.equal((await apiError(other.client.getCard({ card_id: done.card_id! }))).slug, 'card_not_found');
      assert.equal((await apiError(other.client.getCard({ order_id: data.order_id }))).slug, 'card_not_found');
    });

    it('when 50 requests with one key arrive at once, then one order, one charge, and all answers agree', async () => {
      const key = randomUUID();
      const body = { product_code: product.product_code, external_user_id: userId, initial_balance: '5.00' };
      const replies = await Promise.all(Array.from({ length: 50 }, () => client.createCard(body, { idempotencyKey: key })));
      assert.equal(new Set(replies.map((r) => r.data.order_id)).size, 1);
      assert.ok(replies.every((r) => r.status === 201 && r.data.balance_before === '100.00' && r.data.balance_after === '92.50'));
      assert.equal(replies.filter((r) => r.idempotentReplayed).length, 49);
      assert.equal(await orderModel(conn()).countDocuments({ project_id: project._id, order_type: 'card_issue' }), 1);
      assert.deepEqual((await chainOf(conn(), project._id)).map((e) => e.kind), ['deposit', 'charge']);
    });

    it('when 200 orders race for a balance covering exactly 50, then exactly 50 are charged, the balance ends at 0 and the chain is intact', async function () {
      this.timeout(180_000);
      const rich = await createTestProject({ url: tg.url });
      const user = await makeCardholder(conn(), rich.project._id);
      await deposit(conn(), rich.project._id, 50 * 1250);
      const body = { product_code: product.product_code, external_user_id: user, initial_balance: '10.00' };
      const results = await Promise.allSettled(Array.from({ length: 200 }, () => rich.client.createCard(body)));
      const ok = results.filter((r) => r.status === 'fulfilled');
      const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      assert.equal(ok.length, 50);
      assert.ok(refused.every((e) => e instanceof GatewayApiError && e.slug === 'insufficient_funds' && e.status === 422), String(refused[0]));
      const entries = await chainOf(conn(), rich.project._id);
      assertChainIntact(entries);
      assert.equal(entries.filter((e) => e.kind === 'charge').length, 50);
      assert.equal(entries.filter((e) => e.kind === 'deposit').length, 1);
      const lastCharge = entries.filter((e) => e.kind === 'charge').at(-1)!;
      assert.equal(lastCharge.balance_after, 0);
    });
  });
});

function requestUrl(input: string | URL | Request): string {
  return typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
}
