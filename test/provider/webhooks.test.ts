import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { cardModel, type Card } from '../../src/cards/card-model.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import type { Project } from '../../src/projects/project-model.js';
import { contentDigest, privateKeyFromJwk, signMessage } from '../../src/provider/http/message-signature.js';
import { SIGNED_WEBHOOK_COMPONENTS, type WireWebhookEvent } from '../../src/provider/http/wire.js';
import { linkKeyPair } from '../../src/provider/simulator-process.js';
import { providerEventModel } from '../../src/provider/webhooks/provider-event-model.js';
import { PROVIDER_WEBHOOK_PATH } from '../../src/provider/webhooks/webhook-routes.js';
import { waitUntil } from '../support/gateway-process.js';
import { deposit, makeCardholder, makeProduct, makeProject } from '../support/orders-fixtures.js';
import { startTestGateway, type TestGateway } from '../support/partner.js';
import { providerCardEvent, setFaults, setWebhookTarget, simulatorEnv, startTestSimulator } from '../support/provider-sim.js';
import { testStore } from '../support/test-store.js';

describe('provider webhooks into the gateway', function () {
  this.timeout(60_000);
  const conn = () => testStore().connection;
  let sim: Awaited<ReturnType<typeof startTestSimulator>>;
  let tg: TestGateway;
  let project: Project;
  let webhookKey: string;

  before(async () => {
    sim = await startTestSimulator();
    tg = await startTestGateway({ config: { ...simulatorEnv(sim.sim), PROVIDER_RETRY_BASE_MS: '5', WORKER_POLL_MS: '10' } });
    await setWebhookTarget(sim.sim, `${tg.url}${PROVIDER_WEBHOOK_PATH}`);
    webhookKey = await readFile(path.join(sim.dir, 'webhook-key.json'), 'utf8');
    project = await makeProject(conn());
    await deposit(conn(), project._id, 100_000);
  });
  after(async () => {
    await tg.close();
    await sim.stop();
  });

  /** A card issued end to end through the workflow: the gateway's card and its provider card id. */
  async function issuedCard(): Promise<Card> {
    const product = await makeProduct(conn(), { issue_fee: 100 });
    const user = await makeCardholder(conn(), project._id);
    const reply = await tg.gateway.orders.handlers.createCard({ project, body: { product_code: product.product_code, external_user_id: user }, idempotencyKey: randomUUID(), requestId: 't' });
    const id = (reply.data as { order_id: string }).order_id;
    await waitUntil(async () => {
      await tg.gateway.orders.worker.runOrder(id);
      return (await orderModel(conn()).findById(id).lean<Order>())?.status === 'completed';
    }, 20_000, 'the order to complete');
    return (await cardModel(conn()).findOne({ order_id: id }).lean<Card>())!;
  }

  const cardStatus = async (card: Card) => (await cardModel(conn()).findById(card._id).lean<Card>())!.status;


  /** Posts an event as the provider would, signed with `key` (the simulator's by default). */
  async function post(body: WireWebhookEvent, options: { key?: string; keyId?: string; created?: Date; unsigned?: boolean; tamper?: boolean } = {}) {
    const url = `${tg.url}${PROVIDER_WEBHOOK_PATH}`;
    const text = JSON.stringify(body);
    let headers: Record<string, string> = { 'content-type': 'application/json', 'content-digest': contentDigest(text) };
    if (!options.unsigned) {
      headers = await signMessage({ method: 'POST', url, headers }, { keyId: options.keyId ?? 'provider-sim', privateKey: privateKeyFromJwk(options.key ?? webhookKey) }, SIGNED_WEBHOOK_COMPONENTS, options.created);
    }
    // Tampered: the signed digest is of the event as made, the body says something else.
    const res = await fetch(url, { method: 'POST', headers, body: options.tamper ? text.replace('"terminated"', '"inactive"') : text });
    return { status: res.status, body: (await res.json()) as { outcome?: string; error?: { slug: string } } };
  }

  it('when the provider deactivates and reactivates a card, then its signed events move the gateway card, each event recorded once even when delivered twice', async () => {
    const card = await issuedCard();
    await setFaults(sim.sim, { webhook_duplicate_rate: 1 });
    try {
      await tg.gateway.orders.provider.deactivate({ idempotencyKey: `${card.order_id}:freeze`, providerCardId: card.provider_card_id });
      // The provider's inactive is the gateway's frozen.
      await waitUntil(async () => (await cardStatus(card)) === 'frozen', 10_000, 'the card to be frozen');
      await tg.gateway.orders.provider.activate({ idempotencyKey: `${card.order_id}:unfreeze`, providerCardId: card.provider_card_id });
      await waitUntil(async () => (await cardStatus(card)) === 'active', 10_000, 'the card to be active again');
      const events = () => providerEventModel(conn()).find({ provider_card_id: card.provider_card_id }).lean();
      // Issued, deactivated, activated: three events, each sent twice, each kept once.
      await waitUntil(async () => (await events()).length === 3, 10_000, 'three events');
      assert.deepEqual((await events()).map((e) => e.card_status).sort(), ['active', 'active', 'inactive']);
    } finally {
      await setFaults(sim.sim, {});
    }
  });

  it('when the same event id arrives again, then it is applied once and answered duplicate', async () => {
    const card = await issuedCard();
    const e = providerCardEvent(card, 'inactive', new Date(Date.now() + 60_000));
    assert.equal((await post(e)).body.outcome, 'applied');
    assert.equal((await post(e)).body.outcome, 'duplicate');
    assert.equal(await providerEventModel(conn()).countDocuments({ _id: e.id }), 1);
    assert.equal(await cardStatus(card), 'frozen');
  });

  it('when events arrive out of order (a late issuing or an older deactivation after active), then the card never moves back', async () => {
    const card = await issuedCard();
    const t = Date.now() + 60_000;
    assert.equal((await post(providerCardEvent(card, 'active', new Date(t + 2_000)))).body.outcome, 'applied');
    assert.equal((await post(providerCardEvent(card, 'issuing', new Date(t)))).body.outcome, 'ignored');
    assert.equal((await post(providerCardEvent(card, 'inactive', new Date(t + 1_000)))).body.outcome, 'ignored');
    assert.equal(await cardStatus(card), 'active');
    assert.equal((await post(providerCardEvent(card, 'terminated', new Date(t + 3_000)))).body.outcome, 'applied');
    assert.equal((await post(providerCardEvent(card, 'active', new Date(t + 4_000)))).body.outcome, 'ignored', 'terminated is final');
    assert.equal(await cardStatus(card), 'terminated');
  });

  const refusals: [string, (e: WireWebhookEvent) => ReturnType<typeof post>][] = [
    ['unsigned', (e) => post(e, { unsigned: true })],
    ['signed by another key under the provider keyid (forged)', (e) => post(e, { key: linkKeyPair()[0] })],
    ['signed under a keyid the gateway does not know', (e) => post(e, { keyId: 'someone' })],
    ['signed longer ago than the window (stale)', (e) => post(e, { created: new Date(Date.now() - 3_600_000) })],
    ['changed after signing (digest no longer matches)', (e) => post(e, { tamper: true })],
  ];
  for (const [what, send] of refusals) {
    it(`when an event is ${what}, then 401 provider_webhook_rejected and nothing changes`, async () => {
      const card = await issuedCard();
      const e = providerCardEvent(card, 'terminated', new Date(Date.now() + 60_000));
      const res = await send(e);
      assert.deepEqual([res.status, res.body.error?.slug], [401, 'provider_webhook_rejected']);
      assert.equal(await providerEventModel(conn()).countDocuments({ _id: e.id }), 0);
      assert.equal(await cardStatus(card), 'active');
    });
  }
});
