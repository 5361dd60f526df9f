import assert from 'node:assert/strict';
import { WebhookEventError, type WebhookEventRefusal } from '@card-gateway/client';
import { newId } from '../../src/ids/ids.js';
import { ProjectRepository } from '../../src/projects/project-repository.js';
import { webhookModels } from '../../src/webhooks/webhook-models.js';
import { postRaw } from '../support/craft.js';
import { waitUntil } from '../support/gateway-process.js';
import { deposit, makeCardholder, makeProduct } from '../support/orders-fixtures.js';
import { clientFor, createTestProject, startTestGateway, type TestGateway, type TestProject } from '../support/partner.js';
import { testStore } from '../support/test-store.js';
import { startReceiver, type ReceivedRequest, type Receiver } from '../support/webhook-receiver-process.js';

/**
 * Webhook events are sealed like answers and carry, inside the signature, who sealed them, for
 * which project, when, and that they are events: the client's openEvent refuses whatever a real
 * delivery does not prove. Every case starts from an event the gateway really delivered.
 */
describe('webhook events: the seal and what openEvent refuses', function () {
  this.timeout(120_000);
  const conn = () => testStore().connection;
  let tg: TestGateway;
  let tp: TestProject;
  let receiver: Receiver;
  let delivered: ReceivedRequest;
  let orderId: string;

  before(async () => {
    tg = await startTestGateway({
      config: { WORKER_ENABLED: 'true', WORKER_POLL_MS: '20', WEBHOOK_POLL_MS: '50', WEBHOOK_RETRY_BASE_MS: '20', WEBHOOK_RETRY_MAX_MS: '200', WEBHOOK_TIMEOUT_MS: '2000' },
    });
    await tg.gateway.start();
    receiver = await startReceiver({});
    tp = await createTestProject({ url: tg.url });
    await webhookModels(conn()).endpoints.create({ _id: tp.project._id, url: receiver.url, status: 'active' });
    const product = await makeProduct(conn(), { issue_fee: 100 });
    await deposit(conn(), tp.project._id, 10_000);
    const { data } = await tp.client.createCard({ product_code: product.product_code, external_user_id: await makeCardholder(conn(), tp.project._id) });
    orderId = data.order_id;
    // The order's own completion (the deposit's order completes too).
    const ours = async () => {
      for (const r of await receiver.received()) {
        if (r.type === 'order.completed' && (await tp.client.openEvent(r.body)).subject.id === orderId) return r;
      }
      return undefined;
    };
    await waitUntil(async () => (await ours()) !== undefined, 60_000, 'the order.completed event delivered');
    delivered = (await ours())!;
  });
  after(async () => {
    await webhookModels(conn()).endpoints.updateOne({ _id: tp.project._id }, { $set: { status: 'disabled' } });
    await receiver.stop();
    await tg.close();
  });

  const headersOf = (r: ReceivedRequest) => ({ 'webhook-id': r.id, 'webhook-type': r.type, 'webhook-attempt': r.attempt });

  async function refusal(call: Promise<unknown>): Promise<WebhookEventRefusal> {
    try {
      await call;
    } catch (err) {
      if (err instanceof WebhookEventError) return err.reason;
      throw err;
    }
    throw new Error('openEvent accepted it');
  }

  it('when an event is delivered, then its seal names the gateway, the project, the time and the kind, and openEvent accepts it with its headers', async () => {
    const sealed = await tp.client.open(delivered.body);
    assert.equal(sealed.iss, 'card-gateway');
    assert.equal(sealed.aud, tp.project._id);
    assert.equal(sealed.kind, 'webhook_event');
    assert.ok(typeof sealed.iat === 'number' && Math.abs(Date.now() / 1000 - sealed.iat) < 120, 'sealed at delivery');
    const event = await tp.client.openEvent(delivered.body, headersOf(delivered));
    assert.deepEqual([event.id, event.type, event.subject], [delivered.id, 'order.completed', { type: 'order', id: orderId }]);
    // A fetch Headers object works as well as Node's req.headers.
    assert.equal((await tp.client.openEvent(delivered.body, new Headers(headersOf(delivered)))).id, delivered.id);
  });

  it('when an event is opened later than the window (a replay), or by a clock far ahead or behind, then it is refused as stale; the window is the eventMaxAgeS option', async () => {
    const at = (offsetMs: number, eventMaxAgeS?: number) =>
      clientFor(tg.url, tp.project._id, tp.keys, { now: () => Date.now() + offsetMs, ...(eventMaxAgeS !== undefined && { eventMaxAgeS }) });
    // Far enough either way that the seconds since the delivery cannot bring it back in.
    assert.equal(await refusal(at(600_000).openEvent(delivered.body)), 'stale');
    assert.equal(await refusal(at(-600_000).openEvent(delivered.body)), 'stale');
    assert.equal((await at(3_600_000, 7_200).openEvent(delivered.body)).id, delivered.id, 'a wider window accepts it');
    assert.equal(await refusal(at(31_000, 30).openEvent(delivered.body)), 'stale');
  });

  it('when the Webhook-Id or Webhook-Type header disagrees with the sealed event, or is missing, then it is refused', async () => {
    const other = (await receiver.received()).find((r) => r.id !== delivered.id)!;
    assert.equal(await refusal(tp.client.openEvent(delivered.body, { ...headersOf(delivered), 'webhook-id': other.id })), 'header_mismatch');
    assert.equal(await refusal(tp.client.openEvent(delivered.body, { ...headersOf(delivered), 'webhook-type': 'order.failed' })), 'header_mismatch');
    assert.equal(await refusal(tp.client.openEvent(delivered.body, { 'webhook-id': delivered.id })), 'header_mismatch');
    // The body of one event under another's headers: the seal wins.
    assert.equal(await refusal(tp.client.openEvent(other.body, headersOf(delivered))), 'header_mismatch');
  });

  it('when a second project of the same partner shares the keys, then an event of the first is refused as meant for another project', async () => {
    const now = new Date();
    const twin = await new ProjectRepository(conn()).insert({
      _id: newId('prj'),
      name: 'Same partner, second project',
      status: 'active',
      currency: 'USD',
      signing_keys: [{ kid: tp.keys.signing.kid, alg: tp.keys.signing.alg, jwk: tp.keys.signing.publicJwk, status: 'active', created_at: now }],
      encryption_keys: [{ kid: tp.keys.encryption.kid, alg: tp.keys.encryption.alg, jwk: tp.keys.encryption.publicJwk, status: 'active', created_at: now }],
    });
    assert.equal(await refusal(clientFor(tg.url, twin._id, tp.keys).openEvent(delivered.body, headersOf(delivered))), 'other_project');
  });

  it('when the client speaks for another gateway (a sandbox and a production sharing keys), then the event is refused as from the wrong gateway', async () => {
    assert.equal(await refusal(clientFor(tg.url, tp.project._id, tp.keys, { audience: 'card-gateway-production' }).openEvent(delivered.body)), 'wrong_gateway');
  });

  it('when a sealed answer is posted as an event, or a body is tampered with, encrypted to another key or signed by the partner itself, then it is refused', async () => {
    const token = await tp.client.seal(tp.client.claims('/api/v1/orders/check', { order_id: orderId }));
    const answer = await postRaw(tg.url, '/api/v1/orders/check', token);
    assert.equal(answer.contentType, 'application/jose');
    assert.equal(await refusal(tp.client.openEvent(answer.text)), 'not_an_event');

    const segments = delivered.body.split('.');
    const ciphertext = segments[3]!;
    segments[3] = `${ciphertext[0] === 'A' ? 'B' : 'A'}${ciphertext.slice(1)}`;
    assert.equal(await refusal(tp.client.openEvent(segments.join('.'))), 'unopenable');
    const stranger = await createTestProject({ url: tg.url });
    assert.equal(await refusal(stranger.client.openEvent(delivered.body)), 'unopenable');
    const selfMade = await tp.client.seal({ iss: 'card-gateway', aud: tp.project._id, iat: Math.floor(Date.now() / 1000), kind: 'webhook_event', event: { id: 'evt_x', type: 'order.completed', sequence: 3, data: {}, project_id: tp.project._id } });
    assert.equal(await refusal(tp.client.openEvent(selfMade)), 'unopenable');
  });
});
