import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { PartnerClient } from '@card-gateway/client';
import type { Card } from '../../src/cards/card-model.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import type { Product } from '../../src/products/product-model.js';
import type { Project } from '../../src/projects/project-model.js';
import { assertChainIntact, chainOf, deposit, makeCardholder, makeProduct } from '../support/orders-fixtures.js';
import { createTestProject, expectApiError, type TestGateway } from '../support/partner.js';
import { simulatorState } from '../support/provider-sim.js';
import { testStore } from '../support/test-store.js';
import { cardOpsWorld, entriesOf, finished, issueCard, providerCard, storedCard, storedOrder } from './card-ops-fixtures.js';

/** cards/topup through the partner client against the provider simulator process and the real store. */
describe('card top-up', function () {
  this.timeout(120_000);
  const conn = () => testStore().connection;
  let tg: TestGateway;
  let client: PartnerClient;
  let project: Project;
  let product: Product;
  let user: string;
  let card: Card;

  before(async () => {
    ({ tg, client, project, product, user } = await cardOpsWorld(conn(), { deposit: 100_000, product: { issue_fee: 100, limits: { per_transaction: 50_000 } } }));
    card = await issueCard(conn(), client, product.product_code, user, '10.00');
  });
  after(async () => {
    await tg.close();
  });

  it('when a card is topped up, then the master balance is charged once, the card and the provider hold the new balance and orders/check shows the order completed', async () => {
    const before = (await chainOf(conn(), project._id)).at(-1)!.balance_after;
    const { status, data } = await client.topUp({ card_id: card._id, amount: '12.34', currency: 'USD' });
    assert.equal(status, 201);
    assert.equal(data.order_type, 'card_topup');
    assert.equal(data.card_id, card._id);
    assert.equal(data.balance_before, (before / 100).toFixed(2));
    assert.equal(data.balance_after, ((before - 1234) / 100).toFixed(2));
    assert.deepEqual({ amount: data.data.amount, currency: data.data.currency, card_id: data.data.card_id }, { amount: '12.34', currency: 'USD', card_id: card._id });

    const order = await finished(conn(), data.order_id);
    assert.equal(order.status, 'completed');
    assert.equal(order.issue_status, 'completed');
    const entries = await entriesOf(conn(), order._id);
    assert.deepEqual(entries.map((e) => [e.kind, e.amount]), [['charge', -1234]]);
    assert.equal(entries[0]!.balance_before, before);
    assert.equal((await storedCard(conn(), card._id)).balance, 1000 + 1234);
    assert.equal((await providerCard(card)).balance, 1000 + 1234);

    const checked = (await client.checkOrder({ order_id: order._id })).data;
    assert.equal(checked.status, 'completed');
    assert.equal(checked.refunded_amount, '0.00');
    const listed = (await client.listCards({})).data.cards.find((c) => c.card_id === card._id);
    assert.equal(listed?.balance, '22.34');
    assertChainIntact(await chainOf(conn(), project._id));
  });

  it('when the same key comes with the same body, then the same order is answered as a replay; with another body, idempotency_key_reused', async () => {
    const key = randomUUID();
    const first = await client.topUp({ card_id: card._id, amount: '1.00', currency: 'USD' }, { idempotencyKey: key });
    const again = await client.topUp({ card_id: card._id, amount: '1.00', currency: 'USD' }, { idempotencyKey: key });
    assert.equal(again.data.order_id, first.data.order_id);
    assert.equal(again.idempotentReplayed, true);
    const reused = await expectApiError(client.topUp({ card_id: card._id, amount: '2.00', currency: 'USD' }, { idempotencyKey: key }));
    assert.equal(reused.slug, 'idempotency_key_reused');
    assert.equal(reused.status, 409);
    // The key of a top-up cannot be replayed as another operation on the same card either.
    const asFreeze = await expectApiError(client.freeze({ card_id: card._id }, { idempotencyKey: key }));
    assert.equal(asFreeze.slug, 'idempotency_key_reused');
    await finished(conn(), first.data.order_id);
    assert.equal((await entriesOf(conn(), first.data.order_id)).filter((e) => e.kind === 'charge').length, 1);
  });

  describe('refusals', () => {
    let other: Awaited<ReturnType<typeof createTestProject>>;
    let notReady: Card;
    before(async () => {
      other = await createTestProject({ url: tg.url });
      // A card whose issuing order is (made to look) still in progress.
      notReady = await issueCard(conn(), client, product.product_code, user);
      await orderModel(conn()).updateOne({ _id: notReady.order_id }, { $set: { status: 'processing', issue_status: 'initial_topup_in_progress' } });
    });
    after(async () => {
      await orderModel(conn()).updateOne({ _id: notReady.order_id }, { $set: { status: 'completed', issue_status: 'completed' } });
    });

    const cases: [string, string, number, () => { card_id: string; amount: string; currency: string }][] = [
      ['an unknown card', 'card_not_found', 404, () => ({ card_id: 'card_unknown', amount: '1.00', currency: 'USD' })],
      ['a card not issued yet', 'card_not_ready', 409, () => ({ card_id: notReady._id, amount: '1.00', currency: 'USD' })],
      ['another currency than the card', 'currency_mismatch', 422, () => ({ card_id: card._id, amount: '1.00', currency: 'EUR' })],
      ['a zero amount', 'amount_below_minimum', 422, () => ({ card_id: card._id, amount: '0.00', currency: 'USD' })],
      ['more than the product allows per transaction', 'amount_above_maximum', 422, () => ({ card_id: card._id, amount: '500.01', currency: 'USD' })],
    ];
    for (const [what, slug, status, body] of cases) {
      it(`when the top-up names ${what}, then ${slug} (${status}) and a failed order without ledger entries is stored`, async () => {
        const balance = (await client.balance({})).data.balance;
        const err = await expectApiError(client.topUp(body()));
        assert.equal(err.slug, slug);
        assert.equal(err.status, status);
        assert.ok(err.order_id, 'the refusal names its order');
        const order = await storedOrder(conn(), err.order_id);
        assert.deepEqual([order.status, order.rejected, order.last_error_slug, order.order_type], ['failed', true, slug, 'card_topup']);
        assert.deepEqual(await entriesOf(conn(), order._id), []);
        assert.equal((await client.balance({})).data.balance, balance);
      });
    }

    it("when the card is another project's, then card_not_found, never a hint that it exists", async () => {
      const err = await expectApiError(other.client.topUp({ card_id: card._id, amount: '1.00', currency: 'USD' }));
      assert.equal(err.slug, 'card_not_found');
      const order = await storedOrder(conn(), err.order_id!);
      assert.equal(order.card_id, undefined, 'the foreign card is not named as the order card');
    });

    it('when the master balance is short, then insufficient_funds (422), nothing charged', async () => {
      const poor = await createTestProject({ url: tg.url });
      await deposit(conn(), poor.project._id, 100);
      const poorUser = await makeCardholder(conn(), poor.project._id);
      const poorCard = await issueCard(conn(), poor.client, (await makeProduct(conn(), { issue_fee: 0 })).product_code, poorUser);
      const err = await expectApiError(poor.client.topUp({ card_id: poorCard._id, amount: '1.01', currency: 'USD' }));
      assert.equal(err.slug, 'insufficient_funds');
      assert.deepEqual(await entriesOf(conn(), err.order_id!), []);
      assert.equal((await chainOf(conn(), poor.project._id)).at(-1)!.balance_after, 100);
    });

    it('when the body is malformed or the key missing, then validation_error / idempotency_key_required and no order', async () => {
      const count = () => orderModel(conn()).countDocuments({ project_id: project._id });
      const n = await count();
      for (const body of [{ card_id: card._id, amount: '-1', currency: 'USD' }, { card_id: card._id, amount: '1.001', currency: 'USD' }, { card_id: card._id, amount: '1', currency: 'usd' }, { card_id: card._id, amount: '1', currency: 'USD', extra: 1 }]) {
        assert.equal((await expectApiError(client.topUp(body))).slug, 'validation_error');
      }
      assert.equal((await expectApiError(client.call('/api/v1/cards/topup', { card_id: card._id, amount: '1.00', currency: 'USD' }))).slug, 'idempotency_key_required');
      assert.equal(await count(), n);
    });
  });

  describe('provider failures', () => {
    for (const [what, failure, slug] of [
      ['declines', { failure: 'declined', times: 1 }, 'provider_declined'],
    ] as const) {
      it(`when the provider ${what}, then the order fails with ${slug} and the charge is refunded exactly once`, async () => {
        const failingUser = await makeCardholder(conn(), project._id);
        const failingCard = await issueCard(conn(), client, product.product_code, failingUser);
        await client.call('/api/v1/sandbox/rules/set', { external_user_id: failingUser, topup_failure: failure });
        const { data } = await client.topUp({ card_id: failingCard._id, amount: '3.00', currency: 'USD' });
        const order = await finished(conn(), data.order_id);
        assert.deepEqual([order.status, order.issue_status, order.last_error_slug], ['failed', 'topup_error', slug]);
        const entries = await entriesOf(conn(), order._id);
        assert.deepEqual(entries.map((e) => [e.kind, e.amount]), [['charge', -300], ['refund', 300]]);
        // Driving it again changes nothing: the order is terminal and the refund unique.
        await tg.gateway.orders.worker.drain();
        assert.equal((await entriesOf(conn(), order._id)).length, 2);
        assert.equal((await client.checkOrder({ order_id: order._id })).data.refunded_amount, '3.00');
        assert.equal((await providerCard(failingCard)).balance, 0);
        assertChainIntact(await chainOf(conn(), project._id));
      });
    }

    it('when the provider keeps answering 5xx past the retry limit, then the top-up is not failed and refunded (the load may have happened): it is asked again with the same key until the provider answers, and completes with one load', async () => {
      const flakyUser = await makeCardholder(conn(), project._id);
      const flakyCard = await issueCard(conn(), client, product.product_code, flakyUser);
      // More failures than PROVIDER_MAX_ATTEMPTS (2) workflow attempts of PROVIDER_HTTP_ATTEMPTS requests each.
      await client.call('/api/v1/sandbox/rules/set', { external_user_id: flakyUser, topup_failure: { failure: 'unavailable', times: 12 } });
      const { data } = await client.topUp({ card_id: flakyCard._id, amount: '3.00', currency: 'USD' });
      const order = await finished(conn(), data.order_id, 60_000);
      assert.deepEqual([order.status, order.issue_status, order.last_error_slug], ['completed', 'completed', undefined]);
      assert.deepEqual((await entriesOf(conn(), order._id)).map((e) => [e.kind, e.amount]), [['charge', -300]]);
      const loads = (await simulatorState()).loads.filter((l) => l.cardId === flakyCard.provider_card_id);
      assert.equal(loads.length, 1, 'one load at the provider');
      assert.equal((await providerCard(flakyCard)).balance, 300);
      assert.equal((await storedCard(conn(), flakyCard._id)).balance, 300);
    });
  });

  describe('races', () => {
    it('when 50 top-ups of 1.00 race against a master balance of 20.00, then exactly 20 are charged, the balance ends at 0 and the chain is intact', async () => {
      const racer = await createTestProject({ url: tg.url });
      const racerUser = await makeCardholder(conn(), racer.project._id);
      const free = await makeProduct(conn(), { issue_fee: 0 });
      const racerCard = await issueCard(conn(), racer.client, free.product_code, racerUser);
      await deposit(conn(), racer.project._id, 2000);
      const results = await Promise.allSettled(Array.from({ length: 50 }, () => racer.client.topUp({ card_id: racerCard._id, amount: '1.00', currency: 'USD' })));
      const accepted = results.filter((r) => r.status === 'fulfilled');
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(accepted.length, 20);
      assert.ok(refused.every((r) => (r.reason as { slug?: string }).slug === 'insufficient_funds'), 'every other one is insufficient_funds');
      const topups = await orderModel(conn()).find({ project_id: racer.project._id, order_type: 'card_topup' }).lean<Order[]>();
      assert.equal(topups.length, 50);
      await Promise.all(topups.filter((o) => !o.rejected).map((o) => finished(conn(), o._id)));
      const chain = await chainOf(conn(), racer.project._id);
      assertChainIntact(chain);
      assert.equal(chain.filter((e) => e.kind === 'charge').length, 20);
      assert.equal(chain.at(-1)!.balance_after, 0);
      assert.equal((await orderModel(conn()).countDocuments({ project_id: racer.project._id, order_type: 'card_topup', status: 'completed' })), 20);
      assert.equal((await providerCard(racerCard)).balance, 2000);
      assert.equal((await storedCard(conn(), racerCard._id)).balance, 2000);
    });

    it('when 20 top-ups with one key race, then there is one order and one charge', async () => {
      const key = randomUUID();
      const results = await Promise.all(Array.from({ length: 20 }, () => client.topUp({ card_id: card._id, amount: '0.50', currency: 'USD' }, { idempotencyKey: key })));
      const ids = new Set(results.map((r) => r.data.order_id));
      assert.equal(ids.size, 1);
      assert.equal(results.filter((r) => !r.idempotentReplayed).length, 1);
      const order = await finished(conn(), [...ids][0]!);
      assert.equal(order.status, 'completed');
      assert.equal((await entriesOf(conn(), order._id)).filter((e) => e.kind === 'charge').length, 1);
      assert.equal(await orderModel(conn()).countDocuments({ project_id: project._id, idempotency_key: key }), 1);
    });
  });
});
