import assert from 'node:assert/strict';
import type { PartnerClient } from '@card-gateway/client';
import type { Card } from '../../src/cards/card-model.js';
import { cardTerminationModel } from '../../src/card-ops/card-state.js';
import type { Product } from '../../src/products/product-model.js';
import { createTestProject, expectApiError, type TestGateway } from '../support/partner.js';
import { setFaults, suiteSimulator } from '../support/provider-sim.js';
import { testStore } from '../support/test-store.js';
import { cardOpsWorld, entriesOf, finished, issueCard, providerCard, storedCard, storedOrder } from './card-ops-fixtures.js';

/** cards/freeze, cards/unfreeze and cards/terminate through the partner client and the provider simulator. */
describe('card freeze, unfreeze and terminate', function () {
  this.timeout(180_000);
  const conn = () => testStore().connection;
  let tg: TestGateway;
  let client: PartnerClient;
  let product: Product;
  let user: string;

  before(async () => {
    ({ tg, client, product, user } = await cardOpsWorld(conn(), { deposit: 100_000 }));
  });
  after(async () => {
    await tg.close();
  });

  async function refused(call: Promise<unknown>, slug: string, status: number): Promise<void> {
    const err = await expectApiError(call);
    assert.equal(err.slug, slug);
    assert.equal(err.status, status);
    const order = await storedOrder(conn(), err.order_id!);
    assert.deepEqual([order.status, order.rejected, order.last_error_slug], ['failed', true, slug]);
  }

  it('when a card is frozen, unfrozen and terminated, then the gateway card and the provider card follow, and each refusal has its slug', async () => {
    const card = await issueCard(conn(), client, product.product_code, user, '5.00');

    const frozen = await client.freeze({ card_id: card._id });
    assert.equal(frozen.status, 201);
    assert.equal(frozen.data.order_type, 'card_freeze');
    const freezeOrder = await finished(conn(), frozen.data.order_id);
    assert.deepEqual([freezeOrder.status, freezeOrder.provider_card_status], ['completed', 'inactive']);
    assert.equal((await storedCard(conn(), card._id)).status, 'frozen');
    assert.equal((await providerCard(card)).status, 'inactive');
    assert.deepEqual(await entriesOf(conn(), freezeOrder._id), [], 'a status change moves no money');
    assert.equal((await client.listCards({ status: 'frozen' })).data.cards.map((c) => c.card_id).includes(card._id), true);

    await refused(client.freeze({ card_id: card._id }), 'card_already_frozen', 409);
    await refused(client.topUp({ card_id: card._id, amount: '1.00', currency: 'USD' }), 'card_frozen', 409);
    await refused(client.withdraw({ card_id: card._id, amount: '1.00', currency: 'USD' }), 'card_frozen', 409);

    const unfrozen = await finished(conn(), (await client.unfreeze({ card_id: card._id })).data.order_id);
    assert.equal(unfrozen.status, 'completed');
    assert.equal((await storedCard(conn(), card._id)).status, 'active');
    assert.equal((await providerCard(card)).status, 'active');
    await refused(client.unfreeze({ card_id: card._id }), 'card_not_frozen', 409);

    const terminated = await finished(conn(), (await client.terminate({ card_id: card._id })).data.order_id);
    assert.equal(terminated.status, 'completed');
    assert.equal((await storedCard(conn(), card._id)).status, 'terminated');
    assert.equal((await providerCard(card)).status, 'terminated');
    assert.equal(await cardTerminationModel(conn()).countDocuments({ _id: card._id }), 1);

    for (const call of [
      () => client.freeze({ card_id: card._id }),
      () => client.unfreeze({ card_id: card._id }),
      () => client.terminate({ card_id: card._id }),
      () => client.topUp({ card_id: card._id, amount: '1.00', currency: 'USD' }),
      () => client.withdraw({ card_id: card._id, amount: '1.00', currency: 'USD' }),
    ]) {
      await refused(call(), 'card_terminated', 409);
    }
    const other = await createTestProject({ url: tg.url });
    assert.equal((await expectApiError(other.client.freeze({ card_id: card._id }))).slug, 'card_not_found');
  });

  it('when the provider keeps failing a freeze, then the order fails with provider_unavailable and the card stays active at both ends', async () => {
    const card = await issueCard(conn(), client, product.product_code, user);
    await setFaults(suiteSimulator(), { error_rate: 1 });
    let orderId: string;
    try {
      orderId = (await client.freeze({ card_id: card._id })).data.order_id;
      const order = await finished(conn(), orderId);
      assert.deepEqual([order.status, order.issue_status, order.last_error_slug], ['failed', 'card_change_error', 'provider_unavailable']);
    } finally {
      await setFaults(suiteSimulator(), {});
    }
    assert.equal((await storedCard(conn(), card._id)).status, 'active');
    assert.equal((await providerCard(card)).status, 'active');
    // Nothing was frozen, so a new freeze is accepted.
    assert.equal((await finished(conn(), (await client.freeze({ card_id: card._id })).data.order_id)).status, 'completed');
  });

  it('when freeze races terminate on the same card, round after round, then every card ends terminated at the gateway and at the provider', async () => {
    const rounds = 10;
    const cards: Card[] = [];
    for (let i = 0; i < rounds; i++) cards.push(await issueCard(conn(), client, product.product_code, user));
    await Promise.all(
      cards.map(async (card, i) => {
        // Alternate which request leaves first; both are accepted (the card is active for both).
        const calls = [() => client.freeze({ card_id: card._id }), () => client.terminate({ card_id: card._id })];
        if (i % 2 === 1) calls.reverse();
        const answers = await Promise.allSettled(calls.map((c) => c()));
        const ids = answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value.data.order_id] : []));
        await Promise.all(ids.map((id) => finished(conn(), id)));
      }),
    );
    // Give any late write its chance to land, then look.
    await new Promise((r) => setTimeout(r, 300));
    for (const card of cards) {
      assert.equal((await storedCard(conn(), card._id)).status, 'terminated', `gateway card ${card._id}`);
      assert.equal((await providerCard(card)).status, 'terminated', `provider card ${card._id}`);
    }
  });
});
