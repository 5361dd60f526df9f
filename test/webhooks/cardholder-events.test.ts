import assert from 'node:assert/strict';
import type { CardholderWebhookEvent, CreateCardholderRequest, WebhookEvent } from '@card-gateway/client';
import { cardholderModel } from '../../src/cardholders/cardholder-model.js';
import { cardholderIdFor } from '../../src/ids/ids.js';
import { webhookModels } from '../../src/webhooks/webhook-models.js';
import { waitUntil } from '../support/gateway-process.js';
import { uniq } from '../support/orders-fixtures.js';
import { createTestProject, startTestGateway, type TestGateway, type TestProject } from '../support/partner.js';
import { setRule, suiteSimulator } from '../support/provider-sim.js';
import { testStore } from '../support/test-store.js';
import { startReceiver, type Receiver } from '../support/webhook-receiver-process.js';

const TOKEN = 'cardholder-events-token-0123456789abcdef0123';

/**
 * A cardholder's verification outcome reaches the partner as an event: `cardholder.verified` or
 * `cardholder.rejected`, whoever decided it (the provider at once, later, or the gateway's staff),
 * derived from the stored cardholder so a crash after the verdict loses nothing.
 */
describe('webhooks: cardholder verification events', function () {
  this.timeout(120_000);
  const conn = () => testStore().connection;
  const models = () => webhookModels(conn());
  let tg: TestGateway;
  let tp: TestProject;
  let receiver: Receiver;

  before(async () => {
    tg = await startTestGateway({
      config: { ADMIN_TOKENS: `tester:${TOKEN}`, WORKER_ENABLED: 'true', WORKER_POLL_MS: '20', WEBHOOK_POLL_MS: '50', WEBHOOK_RETRY_BASE_MS: '20', WEBHOOK_RETRY_MAX_MS: '200', WEBHOOK_TIMEOUT_MS: '2000' },
    });
    await tg.gateway.start();
    receiver = await startReceiver({});
    tp = await createTestProject({ url: tg.url });
    await models().endpoints.create({ _id: tp.project._id, url: receiver.url, status: 'active' });
  });
  after(async () => {
    await models().endpoints.updateOne({ _id: tp.project._id }, { $set: { status: 'disabled' } });
    await receiver.stop();
    await tg.close();
  });

  const holder = (user: string): CreateCardholderRequest => ({
    external_user_id: user,
    name: { first: 'Ada', last: 'Lovelace' },
    billing_address: { line1: '12 St James Square', city: 'London', postal_code: 'SW1Y 4JH', country: 'GB' },
    contact: { email: 'ada@example.com' },
  });
  const staff = (method: string, route: string, body: unknown) =>
    fetch(`${tg.url}/admin/v1/projects/${tp.project._id}${route}`, { method, headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.status);

  /** Every event the receiver got about this cardholder, opened as the partner does, first receipt of each. */
  async function eventsOf(cardholderId: string): Promise<CardholderWebhookEvent[]> {
    const opened = new Map<string, WebhookEvent>();
    for (const r of await receiver.received()) {
      const event = await tp.client.openEvent(r.body, { 'webhook-id': r.id, 'webhook-type': r.type });
      if (event.subject.id === cardholderId && !opened.has(event.id)) opened.set(event.id, event);
    }
    return [...opened.values()] as CardholderWebhookEvent[];
  }
  const delivered = (cardholderId: string, count: number) =>
    waitUntil(async () => (await models().events.countDocuments({ subject_id: cardholderId, status: 'delivered' })) >= count && (await eventsOf(cardholderId)).length >= count, 60_000, `${count} event(s) of ${cardholderId} delivered`);

  it('when the provider verifies a partner cardholder at once, then the partner receives cardholder.verified with the cardholder as cardholders/get shows it', async () => {
    const user = uniq('user');
    const { data } = await tp.client.createCardholder(holder(user));
    await delivered(data.cardholder_id, 1);
    const [event] = await eventsOf(data.cardholder_id);
    assert.equal(event!.type, 'cardholder.verified');
    assert.deepEqual(event!.subject, { type: 'cardholder', id: data.cardholder_id });
    const now = (await tp.client.getCardholder({ external_user_id: user })).data;
    assert.deepEqual(event!.data, now);
    assert.equal(event!.sequence, Date.parse(now.verified_at!));
  });

  it('when the provider rejects a cardholder, then the partner receives cardholder.rejected', async () => {
    const user = uniq('user');
    await setRule(suiteSimulator(), cardholderIdFor(tp.project._id, user), { account_verification: 'reject' });
    const { data } = await tp.client.createCardholder(holder(user));
    await delivered(data.cardholder_id, 1);
    const [event] = await eventsOf(data.cardholder_id);
    assert.deepEqual([event!.type, event!.data.status, event!.data.external_user_id], ['cardholder.rejected', 'rejected', user]);
  });

  it("when staff change a staff-made cardholder's status, then each new verdict is one event, later ones with a higher sequence, and a repeat of the same status none", async () => {
    const user = uniq('staff-user');
    assert.equal(await staff('POST', '/cardholders', { external_user_id: user }), 201);
    const id = cardholderIdFor(tp.project._id, user);
    assert.equal(await staff('PUT', `/cardholders/${user}/verification`, { verification_status: 'rejected' }), 200);
    await delivered(id, 1);
    assert.equal(await staff('PUT', `/cardholders/${user}/verification`, { verification_status: 'rejected' }), 200);
    assert.equal(await staff('PUT', `/cardholders/${user}/verification`, { verification_status: 'verified' }), 200);
    await delivered(id, 2);
    const events = await eventsOf(id);
    assert.deepEqual(events.map((e) => e.type), ['cardholder.rejected', 'cardholder.verified']);
    assert.ok(events[1]!.sequence > events[0]!.sequence);
    assert.equal(await models().events.countDocuments({ subject_id: id }), 2, 'the repeated status made no event');
  });

  it('when a verdict is stored and no event follows (the process died after the write), then the next scans derive it once', async () => {
    const user = uniq('user');
    await setRule(suiteSimulator(), cardholderIdFor(tp.project._id, user), { account_verification: 'hold' });
    const { data } = await tp.client.createCardholder(holder(user));
    assert.equal(data.status, 'pending');
    const now = new Date();
    await cardholderModel(conn()).updateOne({ _id: data.cardholder_id }, { $set: { verification_status: 'verified', verified_at: now, updated_at: now } });
    await Promise.all([tg.gateway.webhooks.cardholderEvents.scan(), tg.gateway.webhooks.cardholderEvents.scan()]);
    await tg.gateway.webhooks.cardholderEvents.scan();
    const stored = await models().events.find({ subject_id: data.cardholder_id }).lean();
    assert.deepEqual(stored.map((e) => [e.type, e.sequence]), [['cardholder.verified', now.getTime()]]);
    await delivered(data.cardholder_id, 1);
  });
});
