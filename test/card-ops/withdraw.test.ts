import assert from 'node:assert/strict';
import type { PartnerClient } from '@card-gateway/client';
import type { Card } from '../../src/cards/card-model.js';
import type { Product } from '../../src/products/product-model.js';
import type { Project } from '../../src/projects/project-model.js';
import { assertChainIntact, chainOf, makeCardholder } from '../support/orders-fixtures.js';
import { expectApiError, type TestGateway } from '../support/partner.js';
import { testStore } from '../support/test-store.js';
import { cardOpsWorld, entriesOf, finished, issueCard, providerCard, storedCard, storedOrder } from './card-ops-fixtures.js';

/** cards/withdraw: funds off the card at the provider, credited to the master balance once confirmed. */
describe('card withdraw', function () {
  this.timeout(120_000);
  const conn = () => testStore().connection;
  let tg: TestGateway;
  let client: PartnerClient;
  let project: Project;
  let product: Product;
  let user: string;
  let card: Card;

  before(async () => {
    ({ tg, client, project, product, user } = await cardOpsWorld(conn(), { deposit: 10_000 }));
    card = await issueCard(conn(), client, product.product_code, user, '10.00');
  });
  after(async () => {
    await tg.close();
  });

  it('when part of the card balance is withdrawn, then the provider unloads it and the master balance is credited once by a withdrawal entry', async () => {
    assert.equal((await storedCard(conn(), card._id)).balance, 1000, 'the initial top-up is the card balance');
    const before = (await client.balance({})).data.balance;
    assert.equal(before, '90.00');
    const { status, data } = await client.withdraw({ card_id: card._id, amount: '4.00', currency: 'USD' });
    assert.equal(status, 201);
    assert.equal(data.order_type, 'card_withdraw');
    assert.equal(data.balance_after, null, 'credited only after the provider confirmed');
    const order = await finished(conn(), data.order_id);
    assert.deepEqual([order.status, order.issue_status], ['completed', 'completed']);
    const entries = await entriesOf(conn(), order._id);
    assert.deepEqual(entries.map((e) => [e.kind, e.amount, e.balance_before, e.balance_after]), [['withdrawal', 400, 9000, 9400]]);
    assert.deepEqual([order.balance_before, order.balance_after], [9000, 9400]);
    assert.equal((await client.balance({})).data.balance, '94.00');
    assert.equal((await storedCard(conn(), card._id)).balance, 600);
    assert.equal((await providerCard(card)).balance, 600);
    const checked = (await client.checkOrder({ order_id: order._id })).data;
    assert.deepEqual([checked.status, checked.balance_before, checked.balance_after, checked.refunded_amount], ['completed', '90.00', '94.00', '0.00']);
    const statement = (await client.balance({ kind: 'withdrawal' })).data.entries;
    assert.deepEqual(statement.map((e) => [e.order_id, e.amount, e.order_type]), [[order._id, '4.00', 'card_withdraw']]);
    assertChainIntact(await chainOf(conn(), project._id));
  });

  it('when more than the card holds is asked for, then card_balance_insufficient (422) and nothing moves', async () => {
    const err = await expectApiError(client.withdraw({ card_id: card._id, amount: '6.01', currency: 'USD' }));
    assert.equal(err.slug, 'card_balance_insufficient');
    assert.equal(err.status, 422);
    const order = await storedOrder(conn(), err.order_id!);
    assert.deepEqual([order.status, order.rejected, order.order_type], ['failed', true, 'card_withdraw']);
    assert.deepEqual(await entriesOf(conn(), order._id), []);
    assert.equal((await providerCard(card)).balance, 600);
  });

  it('when the currency is not the card currency or the amount zero, then currency_mismatch / amount_below_minimum', async () => {
    assert.equal((await expectApiError(client.withdraw({ card_id: card._id, amount: '1.00', currency: 'EUR' }))).slug, 'currency_mismatch');
    assert.equal((await expectApiError(client.withdraw({ card_id: card._id, amount: '0', currency: 'USD' }))).slug, 'amount_below_minimum');
  });

  it('when the provider keeps answering 5xx past the retry limit, then the unload is not failed (it may have happened): it is asked again with the same key and credited once when the provider answers', async () => {
    const flakyUser = await makeCardholder(conn(), project._id);
    const flakyCard = await issueCard(conn(), client, product.product_code, flakyUser, '3.00');
    await client.call('/api/v1/sandbox/rules/set', { external_user_id: flakyUser, topup_failure: { failure: 'unavailable', times: 12 } });
    const balance = (await chainOf(conn(), project._id)).at(-1)!.balance_after;
    const order = await finished(conn(), (await client.withdraw({ card_id: flakyCard._id, amount: '2.00', currency: 'USD' })).data.order_id, 60_000);
    assert.deepEqual([order.status, order.issue_status], ['completed', 'completed']);
    assert.deepEqual((await entriesOf(conn(), order._id)).map((e) => [e.kind, e.amount]), [['withdrawal', 200]]);
    assert.equal((await chainOf(conn(), project._id)).at(-1)!.balance_after, balance + 200);
    assert.equal((await providerCard(flakyCard)).balance, 100);
    assert.equal((await storedCard(conn(), flakyCard._id)).balance, 100);
  });

  it('when the provider refuses the unload (the card holds less than the provider says), then the order fails and nothing is credited', async () => {
    const refusedUser = await makeCardholder(conn(), project._id);
    const refusedCard = await issueCard(conn(), client, product.product_code, refusedUser, '3.00');
    await client.call('/api/v1/sandbox/rules/set', { external_user_id: refusedUser, topup_failure: { failure: 'declined', times: 1 } });
    const balance = (await client.balance({})).data.balance;
    const order = await finished(conn(), (await client.withdraw({ card_id: refusedCard._id, amount: '2.00', currency: 'USD' })).data.order_id);
    assert.deepEqual([order.status, order.issue_status, order.last_error_slug], ['failed', 'withdraw_error', 'provider_declined']);
    assert.deepEqual(await entriesOf(conn(), order._id), []);
    assert.equal((await client.balance({})).data.balance, balance);
    assert.equal((await providerCard(refusedCard)).balance, 300);
    assert.equal((await client.checkOrder({ order_id: order._id })).data.refunded_amount, '0.00');
  });
});
