import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createGateway, type Gateway } from '../../src/app.js';
import { GatewayError } from '../../src/errors/gateway-error.js';
import type { Slug } from '../../src/errors/slugs.js';
import { orderIdFor } from '../../src/ids/ids.js';
import { ledgerEntryModel } from '../../src/ledger/ledger-entry-model.js';
import { orderModel } from '../../src/orders/order-model.js';
import type { Product } from '../../src/products/product-model.js';
import type { Project } from '../../src/projects/project-model.js';
import { testLogger } from '../support/log-capture.js';
import { assertChainIntact, chainOf, deposit, makeCardholder, makeProduct, makeProject, uniq } from '../support/orders-fixtures.js';
import { testConfig } from '../support/test-config.js';
import { testStore } from '../support/test-store.js';

/**
 * cards/create below HTTP: the partner handler the secure channel calls, on the real store.
 * (The same flows through the partner client are in test/partner-api/.)
 */
describe('cards/create (use case)', () => {
  const conn = () => testStore().connection;
  let gateway: Gateway;
  let project: Project;
  let product: Product;
  let userId: string;

  before(async () => {
    gateway = await createGateway({ config: testConfig(), logger: testLogger, connection: conn() });
  });
  beforeEach(async () => {
    project = await makeProject(conn());
    product = await makeProduct(conn());
    userId = await makeCardholder(conn(), project._id);
    await deposit(conn(), project._id, 10_000);
  });

  const create = (body: unknown, key: string | undefined = randomUUID(), p: Project = project) =>
    gateway.orders.handlers.createCard({ project: p, body, idempotencyKey: key, requestId: 'test' });

  async function rejected(body: unknown, key?: string): Promise<GatewayError> {
    try {
      await create(body, key);
    } catch (err) {
      if (err instanceof GatewayError) return err;
      throw err;
    }
    throw new Error('expected a GatewayError');
  }

  async function ledgerCount() {
    return ledgerEntryModel(conn()).countDocuments({ project_id: project._id });
  }

  it('when the order is valid, then it is charged fee + initial balance and answered 201 with the snapshots', async () => {
    const reply = await create({ product_code: product.product_code, external_user_id: userId, initial_balance: '25.50', label: 'Travel', external_id: 'ext-1' });
    assert.equal(reply.status, 201);
    const data = reply.data as Record<string, unknown>;
    assert.equal(data.status, 'new');
    assert.equal(data.balance_before, '100.00');
    assert.equal(data.balance_after, '69.50');
    assert.equal(data.external_id, 'ext-1');
    assert.deepEqual(data.data, {
      product_code: product.product_code,
      product_id: product.product_id,
      external_user_id: userId,
      label: 'Travel',
      currency: 'USD',
      issue_fee: '5.00',
      initial_balance: '25.50',
      total_charge: '30.50',
    });
    const entries = await chainOf(conn(), project._id);
    assert.equal(entries.length, 2);
    assert.deepEqual([entries[1]!.kind, entries[1]!.amount, entries[1]!.order_id], ['charge', -3050, data.order_id]);
  });

  it('when the legacy product_id is sent, then the product is found by it', async () => {
    const reply = await create({ product_id: product.product_id, external_user_id: userId });
    assert.equal(reply.status, 201);
    assert.equal((reply.data as { balance_after: string }).balance_after, '95.00');
  });

  describe('when a request breaks a rule, then the contract slug answers, in the contract order', () => {
    it('idempotency_key_required, validation_error and external_user_id_required store nothing', async () => {
      const before = await orderModel(conn()).countDocuments({ project_id: project._id });
      assert.equal((await rejected({ product_code: product.product_code, external_user_id: userId }, '')).slug, 'idempotency_key_required');
      // Missing key wins over a bad body.
      assert.equal((await rejected({ nonsense: true }, '')).slug, 'idempotency_key_required');
      const shape = await rejected({ product_code: product.product_code, external_user_id: userId, initial_balance: '-1' });
      assert.equal(shape.slug, 'validation_error');
      assert.deepEqual(shape.details.issues?.map((i) => i.path), ['initial_balance']);
      assert.equal((await rejected({ product_code: product.product_code, product_id: 1, external_user_id: userId })).slug, 'validation_error');
      assert.equal((await rejected({ product_code: product.product_code, external_user_id: userId, extra: 1 })).slug, 'validation_error');
      assert.equal((await rejected('not an object')).slug, 'validation_error');
      // A shape error wins over a missing user.
      assert.equal((await rejected({ product_code: 7 })).slug, 'validation_error');
      assert.equal((await rejected({ product_code: product.product_code })).slug, 'external_user_id_required');
      assert.equal((await rejected({ product_code: product.product_code, external_user_id: '  ' })).slug, 'external_user_id_required');
      assert.equal(await orderModel(conn()).countDocuments({ project_id: project._id }), before);
    });

    const cases: [string, Slug, () => Record<string, unknown> | Promise<Record<string, unknown>>][] = [
      ['an unknown product', 'product_not_found', () => ({ product_code: uniq('NOPE'), external_user_id: userId })],
      ['an inactive product', 'product_not_active', async () => ({ product_code: (await makeProduct(conn(), { active: false })).product_code, external_user_id: 'nobody' })],
      ['an unknown cardholder', 'cardholder_not_found', () => ({ product_code: product.product_code, external_user_id: 'nobody' })],
      ['another project\'s cardholder', 'cardholder_not_found', async () => ({ product_code: product.product_code, external_user_id: await makeCardholder(conn(), (await makeProject(conn()))._id) })],
      ['an unverified cardholder', 'cardholder_not_ready', async () => ({ product_code: product.product_code, external_user_id: await makeCardholder(conn(), project._id, 'pending') })],
      ['a product with a negative fee', 'invalid_pricing', async () => ({ product_code: (await makeProduct(conn(), { issue_fee: -1 })).product_code, external_user_id: userId })],
      ['a product in another currency than the balance', 'invalid_pricing', async () => ({ product_code: (await makeProduct(conn(), { currency: 'EUR' })).product_code, external_user_id: userId })],
      ['a product with min > max', 'card_product_limits_invalid', async () => ({ product_code: (await makeProduct(conn(), { initial_balance_min: 10, initial_balance_max: 5 })).product_code, external_user_id: userId, initial_balance: '99999' })],
      ['a product with a negative minimum', 'card_product_limits_invalid', async () => ({ product_code: (await makeProduct(conn(), { initial_balance_min: -5 })).product_code, external_user_id: userId })],
      ['an initial balance under the minimum', 'amount_below_minimum', async () => ({ product_code: (await makeProduct(conn(), { initial_balance_min: 1000 })).product_code, external_user_id: userId, initial_balance: '9.99' })],
      ['an initial balance over the maximum', 'amount_above_maximum', () => ({ product_code: product.product_code, external_user_id: userId, initial_balance: '1000.01' })],
      ['a charge over the master balance', 'insufficient_funds', () => ({ product_code: product.product_code, external_user_id: userId, initial_balance: '95.01' })],
    ];
    for (const [what, slug, body] of cases) {
      it(`${slug}: ${what} is stored as a failed order, nothing is charged, 422 with order_id`, async () => {
        const ledgerBefore = await ledgerCount();
        const err = await rejected(await body());
        assert.equal(err.slug, slug);
        assert.equal(err.status, 422);
        const order = await orderModel(conn()).findById(err.details.order_id).lean();
        assert.ok(order, 'the failed order is stored');
        assert.equal(order.project_id, project._id);
        assert.equal(order.status, 'failed');
        assert.equal(order.last_error_slug, slug);
        assert.equal(order.rejected, true);
        assert.ok(order.failed_at);
        assert.equal(order.balance_after, undefined);
        assert.equal(await ledgerCount(), ledgerBefore, 'nothing charged');
        assert.equal(await ledgerEntryModel(conn()).countDocuments({ order_id: order._id }), 0);
      });
    }
  });

  describe('idempotency', () => {
    it('when an order is created, then its id is derived from the project and the key, so a replay is one lookup by _id', async () => {
      const reply = await create({ product_code: product.product_code, external_user_id: userId }, 'key-derived');
      assert.equal((reply.data as { order_id: string }).order_id, orderIdFor(project._id, 'key-derived'));
      const other = await makeProject(conn());
      assert.notEqual(orderIdFor(other._id, 'key-derived'), orderIdFor(project._id, 'key-derived'));
    });

    it('when an order was stored under a random id (before ids were derived), then its key still finds it on replay and check', async () => {
      const body = { product_code: product.product_code, external_user_id: userId };
      const first = await create(body, 'key-legacy');
      const derived = (first.data as { order_id: string }).order_id;
      const legacyId = uniq('ord');
      const stored = await orderModel(conn()).findById(derived).lean();
      await orderModel(conn()).collection.deleteOne({ _id: derived } as never);
      await orderModel(conn()).collection.insertOne({ ...stored, _id: legacyId } as never);

      const again = await create(body, 'key-legacy');
      assert.equal(again.headers?.['Idempotent-Replayed'], 'true');
      assert.equal((again.data as { order_id: string }).order_id, legacyId);
      const checked = await gateway.orders.handlers.checkOrder({ project, body: { idempotency_key: 'key-legacy' }, requestId: 't' });
      assert.equal((checked.data as { order_id: string }).order_id, legacyId);
      assert.equal(await orderModel(conn()).countDocuments({ project_id: project._id, idempotency_key: 'key-legacy' }), 1, 'no second order');
    });

    it('when the same key and body come again, then the original order is returned with Idempotent-Replayed', async () => {
      const body = { product_code: product.product_code, external_user_id: userId, initial_balance: '1.00' };
      const first = await create(body, 'key-1');
      const again = await create({ initial_balance: '1.00', external_user_id: userId, product_code: product.product_code }, 'key-1');
      assert.equal(first.headers?.['Idempotent-Replayed'], undefined);
      assert.equal(again.headers?.['Idempotent-Replayed'], 'true');
      assert.equal(again.status, 201);
      assert.equal((again.data as { order_id: string }).order_id, (first.data as { order_id: string }).order_id);
      assert.equal((await chainOf(conn(), project._id)).length, 2, 'one charge');
    });

    it('when the same key comes with another body, then idempotency_key_reused (409) and nothing changes', async () => {
      await create({ product_code: product.product_code, external_user_id: userId }, 'key-2');
      const err = await rejected({ product_code: product.product_code, external_user_id: userId, label: 'x' }, 'key-2');
      assert.equal(err.slug, 'idempotency_key_reused');
      assert.equal(err.status, 409);
      assert.equal(await orderModel(conn()).countDocuments({ project_id: project._id, idempotency_key: 'key-2' }), 1);
    });

    it('when a refused request is replayed, then the same 422 slug and order come back, marked replayed', async () => {
      const body = { product_code: product.product_code, external_user_id: 'nobody' };
      const first = await rejected(body, 'key-3');
      const again = await rejected(body, 'key-3');
      assert.equal(again.slug, 'cardholder_not_found');
      assert.equal(again.details.order_id, first.details.order_id);
      assert.equal(again.headers['Idempotent-Replayed'], 'true');
    });

    it('when the key was used by another project, then it is a different order', async () => {
      const other = await makeProject(conn());
      await deposit(conn(), other._id, 1000);
      const otherUser = await makeCardholder(conn(), other._id, 'verified', userId);
      const mine = await create({ product_code: product.product_code, external_user_id: userId }, 'shared-key');
      const theirs = await create({ product_code: product.product_code, external_user_id: otherUser }, 'shared-key', other);
      assert.notEqual((mine.data as { order_id: string }).order_id, (theirs.data as { order_id: string }).order_id);
      assert.equal(theirs.headers?.['Idempotent-Replayed'], undefined);
    });

    it('when 50 requests with one key arrive at once, then one order and one charge, and every answer agrees', async function () {
      this.timeout(60_000);
      const body = { product_code: product.product_code, external_user_id: userId, initial_balance: '10.00' };
      const replies = await Promise.all(Array.from({ length: 50 }, () => create(body, 'same-key')));
      const ids = new Set(replies.map((r) => (r.data as { order_id: string }).order_id));
      assert.equal(ids.size, 1);
      assert.ok(replies.every((r) => r.status === 201 && (r.data as { balance_after: string }).balance_after === '85.00'));
      assert.equal(replies.filter((r) => r.headers?.['Idempotent-Replayed'] === 'true').length, 49);
      assert.equal(await orderModel(conn()).countDocuments({ project_id: project._id, order_type: 'card_issue' }), 1);
      const entries = await chainOf(conn(), project._id);
      assert.deepEqual(entries.map((e) => e.kind), ['deposit', 'charge']);
    });

    it('when 200 orders race for a balance that covers exactly 50, then exactly 50 are charged and the balance ends at 0', async function () {
      this.timeout(120_000);
      const p = await makeProject(conn());
      const user = await makeCardholder(conn(), p._id);
      await deposit(conn(), p._id, 50 * 1500); // fee 5.00 + 10.00 each
      const body = { product_code: product.product_code, external_user_id: user, initial_balance: '10.00' };
      const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => create(body, `race-${i}`, p)));
      const ok = results.filter((r) => r.status === 'fulfilled');
      const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      assert.equal(ok.length, 50);
      assert.ok(refused.every((e) => e instanceof GatewayError && e.slug === 'insufficient_funds'), String(refused.find((e) => !(e instanceof GatewayError))));

      const entries = await chainOf(conn(), p._id);
      assertChainIntact(entries);
      assert.equal(entries.length, 51);
      assert.equal(entries.at(-1)!.balance_after, 0);
      const failed = await orderModel(conn()).find({ project_id: p._id, status: 'failed' }).lean();
      assert.equal(failed.length, 150);
      assert.ok(failed.every((o) => o.last_error_slug === 'insufficient_funds' && o.balance_after === undefined));
    });
  });
});
