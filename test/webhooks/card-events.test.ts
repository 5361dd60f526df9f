import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import type { CardWebhookEvent, PartnerClient, WebhookEvent } from '@card-gateway/client';
import { cardTerminationModel } from '../../src/card-ops/card-state.js';
import { cardModel, type Card } from '../../src/cards/card-model.js';
import { eventIdFor } from '../../src/ids/ids.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import { contentDigest, privateKeyFromJwk, signMessage } from '../../src/provider/http/message-signature.js';
import { SIGNED_WEBHOOK_COMPONENTS, type WireWebhookEvent } from '../../src/provider/http/wire.js';
import { providerEventModel } from '../../src/provider/webhooks/provider-event-model.js';
import { PROVIDER_WEBHOOK_PATH } from '../../src/provider/webhooks/webhook-routes.js';
import { connectDatabase } from '../../src/store/database.js';
import { CardEventRecorder, cardEventId } from '../../src/webhooks/card-events.js';
import { OrderEventOutbox, statesOf } from '../../src/webhooks/order-events.js';
import { webhookModels, type WebhookEvent as StoredEvent } from '../../src/webhooks/webhook-models.js';
import { finished, issueCard, storedCard, WORKER_CONFIG } from '../card-ops/card-ops-fixtures.js';
import { spawnGateway, waitUntil, type GatewayProcess } from '../support/gateway-process.js';
import { testLogger } from '../support/log-capture.js';
import { childMongoUri, deposit, makeCardholder, makeProduct } from '../support/orders-fixtures.js';
import { createTestProject, startTestGateway, type TestGateway, type TestProject } from '../support/partner.js';
import { providerCardEvent, setWebhookTarget, simulatorEnv, startTestSimulator } from '../support/provider-sim.js';
import { testStore } from '../support/test-store.js';
import { startReceiver, type Receiver } from '../support/webhook-receiver-process.js';

const TOKEN = 'card-events-test-token-0123456789abcdef01234567';
const CARDS = 4;

/**
 * Card events and card operations' order events, delivered to a receiver (its own process) that
 * fails every event's first attempt, answers some requests slower than WEBHOOK_TIMEOUT_MS and
 * drops some connections; the provider simulator also reports each change by its own webhooks.
 */
describe('card webhook events', function () {
  this.timeout(240_000);
  const conn = () => testStore().connection;
  const models = () => webhookModels(conn());
  let sim: Awaited<ReturnType<typeof startTestSimulator>>;
  let tg: TestGateway;
  let receiver: Receiver;
  let tp: TestProject;
  let client: PartnerClient;
  let productCode: string;
  let user: string;

  before(async () => {
    sim = await startTestSimulator();
    tg = await startTestGateway({
      config: {
        ...WORKER_CONFIG,
        ...simulatorEnv(sim.sim),
        ADMIN_TOKENS: `tester:${TOKEN}`,
        WEBHOOK_POLL_MS: '50',
        WEBHOOK_TIMEOUT_MS: '1500',
        WEBHOOK_RETRY_BASE_MS: '20',
        WEBHOOK_RETRY_MAX_MS: '200',
      },
    });
    await tg.gateway.start();
    await setWebhookTarget(sim.sim, `${tg.url}${PROVIDER_WEBHOOK_PATH}`);
    receiver = await startReceiver({ RECEIVER_FAIL_FIRST: '4', RECEIVER_FAIL_EACH_FIRST: '1', RECEIVER_SLOW_MS: '2500' });
    tp = await createTestProject({ url: tg.url });
    client = tp.client;
    const registered = await fetch(`${tg.url}/admin/v1/projects/${tp.project._id}/webhook`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: receiver.url }),
    });
    assert.equal(registered.status, 200);
    productCode = (await makeProduct(conn(), { issue_fee: 0 })).product_code;
    user = await makeCardholder(conn(), tp.project._id);
    await deposit(conn(), tp.project._id, 100_000);
  });
  after(async () => {
    await models().endpoints.updateOne({ _id: tp.project._id }, { $set: { status: 'disabled' } });
    await setWebhookTarget(sim.sim, undefined);
    await tg.close();
    await receiver.stop();
    await sim.stop();
  });

  const opened = async (): Promise<{ event: WebhookEvent; answer: string }[]> => {
    const all: { event: WebhookEvent; answer: string }[] = [];
    for (const r of await receiver.received()) {
      const event = await client.openEvent(r.body, { 'webhook-id': r.id, 'webhook-type': r.type });
      all.push({ event, answer: r.answer });
    }
    return all;
  };
  const storedEvents = () => models().events.find({ project_id: tp.project._id }).lean<StoredEvent[]>();
  const allDelivered = async () => (await storedEvents()).every((e) => e.status === 'delivered');

  describe('cards driven through issue, top-up, freeze, unfreeze and terminate, in parallel', () => {
    const cards: Card[] = [];
    const orders: Order[] = [];

    before(async function () {
      this.timeout(180_000);
      await Promise.all(
        Array.from({ length: CARDS }, async () => {
          const card = await issueCard(conn(), client, productCode, user, '2.00');
          cards.push(card);
          const steps = [
            () => client.topUp({ card_id: card._id, amount: '1.00', currency: 'USD' }),
            () => client.freeze({ card_id: card._id }),
            () => client.unfreeze({ card_id: card._id }),
            () => client.terminate({ card_id: card._id }),
          ];
          for (const step of steps) {
            const done = await finished(conn(), (await step()).data.order_id);
            assert.equal(done.status, 'completed', `${done.order_type} ${done.last_error_slug ?? ''}`);
          }
        }),
      );
      orders.push(...(await orderModel(conn()).find({ project_id: tp.project._id }).lean<Order[]>()));
      const terminated = cards.map((c) => eventIdFor(c._id, 'terminated'));
      const orderEvents = orders.flatMap((o) => statesOf(o).map((s) => eventIdFor(o._id, s)));
      await waitUntil(
        async () => (await models().events.countDocuments({ _id: { $in: [...terminated, ...orderEvents] } })) === terminated.length + orderEvents.length && (await allDelivered()),
        120_000,
        'every event recorded and delivered',
      );
    });

    it('when every event is delivered, then each stored event id was received, each opens with the client, and nothing secret is in it', async () => {
      const received = await opened();
      const receivedIds = new Set(received.map((r) => r.event.id));
      const stored = await storedEvents();
      for (const e of stored) assert.ok(receivedIds.has(e._id), `${e.type} ${e._id} received (dropped none)`);
      for (const { event } of received) assert.ok(stored.some((e) => e._id === event.id), 'only stored events are sent');
      const cardKeys = ['balance', 'card_id', 'created_at', 'currency', 'external_user_id', 'label', 'masked_pan', 'order_id', 'product_code', 'status', 'updated_at'];
      for (const { event } of received) {
        assert.equal(event.project_id, tp.project._id);
        if (event.subject.type !== 'card') continue;
        assert.deepEqual(Object.keys(event.data).sort(), cardKeys, 'the card as cards/list shows it: no number, CVV or expiry');
        assert.equal('card_id' in event.data && event.data.card_id, event.subject.id);
      }
      const answers = new Set(received.map((r) => r.answer));
      for (const a of ['fail', 'slow', 'drop', 'ok']) assert.ok(answers.has(a), `the receiver exercised "${a}"`);
      process.stdout.write(`      ${received.length} requests for ${receivedIds.size} events\n`);
    });

    it('when a card went active, frozen, active, terminated, then its card events say so once each, in sequence order, terminated last', async () => {
      const received = (await opened()).map((r) => r.event);
      for (const card of cards) {
        const stored = await models().events.find({ subject_id: card._id }).sort({ sequence: 1 }).lean<StoredEvent[]>();
        assert.deepEqual(stored.map((e) => e.type), ['card.active', 'card.frozen', 'card.active', 'card.terminated'], `stored events of ${card._id}`);
        assert.equal(stored.at(-1)!._id, eventIdFor(card._id, 'terminated'));
        assert.equal((stored.at(-1)!.data as { status: string }).status, 'terminated');
        // The provider reported each change too (its own webhooks): still one event per change.
        const reported = await providerEventModel(conn()).find({ provider_card_id: card.provider_card_id, applied: true }).lean();
        assert.ok(reported.some((e) => e.card_status === 'inactive'), `the provider reported ${card._id} frozen`);

        const got = received.filter((e): e is CardWebhookEvent => e.subject.type === 'card' && e.subject.id === card._id);
        const sequences = got.map((e) => e.sequence);
        assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b), `receipts of ${card._id} never go back (duplicates allowed)`);
        const firstSeen = [...new Map(got.map((e) => [e.id, e])).values()];
        assert.deepEqual(firstSeen.map((e) => e.id), stored.map((e) => e._id), `first deliveries of ${card._id} in sequence order, none missing`);
      }
    });

    it("when card operations ran, then each order's events follow its path (created, processing, completed), in order", async () => {
      const received = (await opened()).map((r) => r.event);
      const ops = orders.filter((o) => o.order_type.startsWith('card_') && o.order_type !== 'card_issue');
      assert.equal(ops.length, CARDS * 4);
      for (const order of [...orders]) {
        const types = statesOf(order).map((s) => `order.${s}`);
        if (ops.includes(order)) assert.deepEqual(types, ['order.created', 'order.processing', 'order.completed']);
        const got = received.filter((e) => e.subject.type === 'order' && e.subject.id === order._id);
        assert.deepEqual([...new Map(got.map((e) => [e.id, e.type])).values()], types, `events of ${order.order_type} ${order._id}`);
        const sequences = got.map((e) => e.sequence);
        assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b), `receipts of ${order._id} never go back`);
      }
    });

    it('when attempts failed, then the delivery log stores them: every event needed more than one attempt, and timeouts and dropped connections are recorded', async () => {
      const stored = await storedEvents();
      const attempts = await models().attempts.find({ project_id: tp.project._id }).lean();
      const outcomes = new Set(attempts.map((a) => a.outcome));
      for (const o of ['delivered', 'http_error', 'timeout', 'network_error'] as const) assert.ok(outcomes.has(o), `an attempt ended ${o}: ${[...outcomes].join(',')}`);
      for (const e of stored) {
        const log = attempts.filter((a) => a.event_id === e._id).sort((a, b) => a.attempt - b.attempt);
        assert.ok(log.length >= 2, `${e._id}: its first attempt failed`);
        assert.deepEqual(log.map((a) => a.attempt), Array.from({ length: e.attempts }, (_, i) => i + 1));
        assert.equal(log[0]!.outcome, 'http_error');
        assert.equal(log.at(-1)!.outcome, 'delivered', JSON.stringify({ event: e, log }));
      }
    });
  });

  describe('two gateway processes recording changes of the same cards at once', () => {
    const RACE_CARDS = 3;
    const ROUNDS = 12;
    const PER_ROUND = 5;
    /** A stored card event as the chain reads it. */
    interface ChainRow {
      _id: string;
      type: string;
      sequence: number;
      changed_at?: Date;
    }
    const connections: Connection[] = [];
    const recorders: CardEventRecorder[] = [];
    const cards: Card[] = [];

    before(async function () {
      this.timeout(120_000);
      // Each recorder on its own connection with its own in-process turns, as two gateway processes have.
      for (let i = 0; i < 2; i++) {
        const connection = await connectDatabase(testStore().uri, testStore().dbName);
        connections.push(connection);
        recorders.push(new CardEventRecorder(connection, { retryForS: 600 }, testLogger));
      }
      cards.push(...(await Promise.all(Array.from({ length: RACE_CARDS }, () => issueCard(conn(), client, productCode, user)))));
      await waitUntil(
        async () => (await models().events.countDocuments({ subject_id: { $in: cards.map((c) => c._id) }, type: 'card.active' })) === RACE_CARDS,
        20_000,
        'each card.active of issue',
      );
    });
    after(async () => {
      for (const connection of connections) await connection.close();
    });

    it('when two recorders on their own connections race many changes of the same cards, then each card has one chain: positions 0..n, no state twice in a row, times never back, terminated once and last, received in chain order', async () => {
      let clock = Date.now();
      const recorded: boolean[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        clock += 50;
        const at = clock;
        const changes = cards.flatMap((card) =>
          Array.from({ length: PER_ROUND }, (_, i) => {
            const change = { cardId: card._id, state: randomInt(2) === 0 ? ('active' as const) : ('frozen' as const), source: { order: `ord_race_${round}_${i}` }, time: at + randomInt(8) };
            // The first change of a round is derived by both processes (two scans of one order): one event.
            return i === 0 ? [recorders[0]!.record(change), recorders[1]!.record(change)] : [recorders[i % 2]!.record(change)];
          }).flat(),
        );
        recorded.push(...(await Promise.all(changes)));
      }
      clock += 50;
      const end = clock;
      // Both learn the termination (the order, the provider's event) while later changes still arrive.
      recorded.push(
        ...(await Promise.all(
          cards.flatMap((card) => [
            recorders[0]!.record({ cardId: card._id, state: 'terminated', source: { order: 'ord_race_terminate' }, time: end }),
            recorders[1]!.record({ cardId: card._id, state: 'terminated', source: { provider_event: 'pe_race_terminate' }, time: end + 1 }),
            recorders[1]!.record({ cardId: card._id, state: 'frozen', source: { order: 'ord_race_late' }, time: end + 2 }),
            recorders[0]!.record({ cardId: card._id, state: 'active', source: { order: 'ord_race_later' }, time: end + 3 }),
          ]),
        )),
      );

      const chains = new Map<string, ChainRow[]>();
      for (const card of cards) {
        const rows = await models().events.find({ subject_id: card._id }).sort({ sequence: 1 }).lean<ChainRow[]>();
        chains.set(card._id, rows);
        const types = rows.map((r) => r.type);
        for (let k = 1; k < rows.length; k++) assert.notEqual(types[k], types[k - 1], `${card._id}: no state twice in a row: ${types.join(' ')}`);
        assert.deepEqual(rows.map((r) => r.sequence), Array.from({ length: rows.length }, (_, k) => k), `${card._id}: positions 0..n, no gap, no duplicate`);
        const times = rows.map((r) => r.changed_at?.getTime() ?? Number.NaN);
        assert.deepEqual(times, [...times].sort((a, b) => a - b), `${card._id}: change times never go back along the chain`);
        assert.equal(types.filter((t) => t === 'card.terminated').length, 1);
        assert.equal(rows.at(-1)!._id, eventIdFor(card._id, 'terminated'), `${card._id}: terminated last`);
        assert.ok(rows.length >= 4, `${card._id}: the race recorded several changes (${rows.length})`);
      }
      assert.equal(recorded.filter(Boolean).length, [...chains.values()].reduce((n, rows) => n + rows.length - 1, 0), 'each stored event was reported stored once');

      await waitUntil(async () => (await models().events.countDocuments({ subject_id: { $in: cards.map((c) => c._id) }, status: { $ne: 'delivered' } })) === 0, 120_000, 'the chains delivered');
      const received = (await opened()).map((r) => r.event);
      for (const card of cards) {
        const got = received.filter((e) => e.subject.type === 'card' && e.subject.id === card._id);
        const sequences = got.map((e) => e.sequence);
        assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b), `receipts of ${card._id} never go back (duplicates allowed)`);
        assert.deepEqual([...new Set(got.map((e) => e.id))], chains.get(card._id)!.map((r) => r._id), `first deliveries of ${card._id} in chain order, none missing`);
      }
    });
  });

  describe('the outbox', () => {
    it('when a card was issued and its event was never recorded (a crash before the scan, the provider event lost too), then a scan in a restarted process derives it from the order', async () => {
      const card = await issueCard(conn(), client, productCode, user);
      await waitUntil(async () => (await models().events.countDocuments({ subject_id: card._id })) === 1, 10_000, 'the card.active event');
      await models().events.deleteMany({ subject_id: card._id });
      // The crash came before the watermark moved past the order: a restarted process scans it again.
      const scanState = await models().scans.findById('orders').lean();
      await models().scans.updateOne({ _id: 'orders' }, { $set: { watermark: new Date(card.created_at.getTime() - 1_000) } });
      const recorder = new CardEventRecorder(conn(), { retryForS: 60 }, testLogger);
      const restarted = new OrderEventOutbox(conn(), { retryForS: 60 }, testLogger, recorder);
      await restarted.scan();
      await restarted.scan();
      const events = await models().events.find({ subject_id: card._id }).lean<StoredEvent[]>();
      assert.deepEqual(
        events.map((e) => [e._id, e.type, e.sequence, e.changed_at?.getTime()]),
        [[cardEventId({ cardId: card._id, state: 'active', source: { order: card.order_id } }), 'card.active', 0, (await orderModel(conn()).findById(card.order_id).lean<Order>())!.completed_at!.getTime()]],
        'the first event of the card\'s chain, at the time its order completed',
      );
      assert.ok(scanState && (await models().scans.findById('orders').lean())!.watermark >= scanState.watermark, 'the watermark moved on again');
    });
  });

  describe('a card whose events were recorded before the chain', () => {
    it('when its latest event carries its change time as sequence (no changed_at), then a later change takes the next number after it and an older one is refused', async () => {
      const card = await issueCard(conn(), client, productCode, user);
      await waitUntil(async () => (await models().events.countDocuments({ subject_id: card._id })) === 1, 10_000, 'the card.active event');
      // Delivered first: the dispatcher's writes to a pending event (each attempt's $set) would race
      // the rewrite below, and on the embedded store an update writes the whole document back.
      await waitUntil(async () => (await models().events.findOne({ subject_id: card._id }).lean<StoredEvent>())?.status === 'delivered', 20_000, 'the card.active event delivered');
      const issued = (await models().events.findOne({ subject_id: card._id }).lean<StoredEvent>())!;
      const at = issued.changed_at!.getTime();
      // As the gateway stored it before: sequence the change's time, no changed_at.
      await models().events.collection.updateOne({ _id: issued._id as never }, { $set: { sequence: at }, $unset: { changed_at: '' } });
      const recorder = new CardEventRecorder(conn(), { retryForS: 60 }, testLogger);
      assert.equal(await recorder.record({ cardId: card._id, state: 'frozen', source: { order: 'ord_legacy_older' }, time: at - 1 }), false, 'older than the latest');
      assert.equal(await recorder.record({ cardId: card._id, state: 'frozen', source: { order: 'ord_legacy_later' }, time: at + 5 }), true);
      const events = await models().events.find({ subject_id: card._id }).sort({ sequence: 1 }).lean<StoredEvent[]>();
      assert.deepEqual(
        events.map((e) => [e.type, e.sequence, e.changed_at?.getTime()]),
        [
          ['card.active', at, undefined],
          ['card.frozen', at + 1, at + 5],
        ],
      );
    });
  });

  describe('changes the provider reports on its own', () => {
    let webhookKey: string;

    before(async () => {
      webhookKey = await readFile(path.join(sim.dir, 'webhook-key.json'), 'utf8');
    });


    async function post(body: WireWebhookEvent, gatewayUrl = tg.url): Promise<string | undefined> {
      const url = `${gatewayUrl}${PROVIDER_WEBHOOK_PATH}`;
      const text = JSON.stringify(body);
      const headers = await signMessage(
        { method: 'POST', url, headers: { 'content-type': 'application/json', 'content-digest': contentDigest(text) } },
        { keyId: 'provider-sim', privateKey: privateKeyFromJwk(webhookKey) },
        SIGNED_WEBHOOK_COMPONENTS,
      );
      const res = await fetch(url, { method: 'POST', headers, body: text });
      assert.equal(res.status, 200);
      return ((await res.json()) as { outcome?: string }).outcome;
    }

    it('when the provider freezes a card, the gateway crashes before answering and the provider re-sends, then one card.frozen event is recorded under an id derived from the provider event', async () => {
      const card = await issueCard(conn(), client, productCode, user);
      await waitUntil(async () => (await models().events.countDocuments({ subject_id: card._id })) === 1, 10_000, 'the card.active event');
      const frozen = providerCardEvent(card, 'inactive', new Date(Date.now() + 60_000));
      const id = cardEventId({ cardId: card._id, state: 'frozen', source: { provider_event: frozen.id } });
      assert.equal(await post(frozen), 'applied');
      assert.equal((await storedCard(conn(), card._id)).status, 'frozen');
      assert.ok(await models().events.exists({ _id: id, type: 'card.frozen', subject_type: 'card' }));

      // As if the process died after writing the card: neither the partner's event nor the provider event's record exists.
      await models().events.deleteOne({ _id: id });
      await providerEventModel(conn()).deleteOne({ _id: frozen.id });
      assert.equal(await post(frozen), 'ignored', 'the card already carries it');
      assert.ok(await models().events.exists({ _id: id }), 'the re-sent event derived the partner event again');
      assert.equal(await post(frozen), 'duplicate');
      assert.equal(await models().events.countDocuments({ subject_id: card._id, type: 'card.frozen' }), 1);
      await waitUntil(async () => (await models().events.findById(id).lean())?.status === 'delivered', 30_000, 'card.frozen delivered');
      const got = (await opened()).map((r) => r.event).find((e) => e.id === id);
      assert.ok(got && got.type === 'card.frozen' && got.data.status === 'frozen');
    });

    it('when the provider terminates a card, then card.terminated is its last event: later provider states and stale order changes add none', async () => {
      const card = await issueCard(conn(), client, productCode, user);
      await waitUntil(async () => (await models().events.countDocuments({ subject_id: card._id })) === 1, 10_000, 'the card.active event');
      const t = Date.now() + 60_000;
      assert.equal(await post(providerCardEvent(card, 'terminated', new Date(t))), 'applied');
      assert.equal(await cardTerminationModel(conn()).countDocuments({ _id: card._id }), 1, 'recorded as final, as a terminate order does');
      assert.equal(await post(providerCardEvent(card, 'active', new Date(t + 1_000))), 'ignored');
      // A change learnt after the termination (a freeze that completed late) is no news to the partner.
      assert.equal(await tg.gateway.webhooks.cardEvents.record({ cardId: card._id, state: 'frozen', source: { order: 'ord_late' }, time: Date.now() }), false);
      await tg.gateway.webhooks.outbox.scan();
      const events = await models().events.find({ subject_id: card._id }).sort({ sequence: 1 }).lean<StoredEvent[]>();
      assert.deepEqual(events.map((e) => e.type), ['card.active', 'card.terminated']);
      assert.equal(events[1]!._id, eventIdFor(card._id, 'terminated'));
      assert.equal((await cardModel(conn()).findById(card._id).lean<Card>())!.status, 'terminated');
      await waitUntil(async () => (await models().events.findById(events[1]!._id).lean())?.status === 'delivered', 30_000, 'card.terminated delivered');
    });

    it("when two gateway processes receive the provider's changes of one card at once, then its events form one chain: positions 0..n, no state twice in a row, terminated once and last, received in chain order", async () => {
      const dirs = await Promise.all([0, 1].map(() => mkdtemp(path.join(os.tmpdir(), 'card-events-chain-'))));
      const gateways: GatewayProcess[] = [];
      try {
        // Two more gateway processes on this database that only take the provider's webhooks; this suite's gateway delivers.
        const env = (keys: string) => ({
          ...simulatorEnv(sim.sim),
          MONGODB_URI: childMongoUri(testStore().uri, testStore().dbName),
          GATEWAY_KEYS_DIR: keys,
          WORKER_ENABLED: 'false',
          WEBHOOKS_ENABLED: 'false',
        });
        gateways.push(...(await Promise.all(dirs.map((d) => spawnGateway(env(d))))));
        const card = await issueCard(conn(), client, productCode, user);
        await waitUntil(async () => (await models().events.countDocuments({ subject_id: card._id })) === 1, 10_000, 'the card.active event');
        const t = Date.now() + 60_000;
        for (let round = 0; round < 10; round++) {
          await Promise.all(
            Array.from({ length: 4 }, (_, i) => post(providerCardEvent(card, (round + i) % 2 === 0 ? 'inactive' : 'active', new Date(t + round * 10 + i)), gateways[i % 2]!.url)),
          );
        }
        await Promise.all(gateways.map((gw, i) => post(providerCardEvent(card, 'terminated', new Date(t + 1_000 + i)), gw.url)));

        const rows = await models().events.find({ subject_id: card._id }).sort({ sequence: 1 }).lean<StoredEvent[]>();
        const types = rows.map((r) => r.type);
        for (let k = 1; k < rows.length; k++) assert.notEqual(types[k], types[k - 1], `no state twice in a row: ${types.join(' ')}`);
        assert.deepEqual(rows.map((r) => r.sequence), Array.from({ length: rows.length }, (_, k) => k), 'positions 0..n');
        const times = rows.map((r) => r.changed_at!.getTime());
        assert.deepEqual(times, [...times].sort((a, b) => a - b), 'change times never go back along the chain');
        assert.equal(types.filter((x) => x === 'card.terminated').length, 1);
        assert.equal(rows.at(-1)!._id, eventIdFor(card._id, 'terminated'));
        assert.ok(rows.length >= 3, `several changes recorded: ${types.join(' ')}`);

        await waitUntil(async () => (await models().events.countDocuments({ subject_id: card._id, status: { $ne: 'delivered' } })) === 0, 60_000, 'the chain delivered');
        const got = (await opened()).map((r) => r.event).filter((e) => e.subject.type === 'card' && e.subject.id === card._id);
        assert.deepEqual([...new Set(got.map((e) => e.id))], rows.map((r) => r._id), 'first deliveries in chain order, none missing');
      } finally {
        for (const gw of gateways) {
          gw.child.kill('SIGTERM');
          await gw.exited;
        }
        for (const d of dirs) await rm(d, { recursive: true, force: true });
      }
    });
  });
});
