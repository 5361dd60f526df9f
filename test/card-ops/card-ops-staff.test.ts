import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PartnerClient } from '@card-gateway/client';
import { auditLogModel, type AuditEntry } from '../../src/back-office/audit-log.js';
import type { Card } from '../../src/cards/card-model.js';
import { cardTerminationModel } from '../../src/card-ops/card-state.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import type { Product } from '../../src/products/product-model.js';
import type { Project } from '../../src/projects/project-model.js';
import { uriOf } from '../support/isolated-db.js';
import { expectApiError, type TestGateway } from '../support/partner.js';
import { simulatorEnv } from '../support/provider-sim.js';
import { runScript } from '../support/run-script.js';
import { testStore } from '../support/test-store.js';
import { cardOpsWorld, entriesOf, finished, issueCard, providerCard, storedCard, storedOrder } from './card-ops-fixtures.js';

const ALICE = 'alice-card-ops-token-0123456789abcdef0123';

interface Answer {
  status: number;
  headers: Headers;
  body: { data?: Record<string, unknown>; error?: { slug: string; message: string; order_id?: string; issues?: unknown[] } };
}

/** Staff freezing, unfreezing and terminating cards through the admin API and `npm run admin -- cards …`. */
describe('card operations by staff (admin API and CLI)', function () {
  this.timeout(240_000);
  const conn = () => testStore().connection;
  let tg: TestGateway;
  let client: PartnerClient;
  let project: Project;
  let product: Product;
  let user: string;
  let keysDir: string;

  before(async () => {
    ({ tg, client, project, product, user } = await cardOpsWorld(conn(), { deposit: 100_000, config: { ADMIN_TOKENS: `alice:${ALICE}`, ADMIN_AUTH_MAX_FAILURES: '1000' } }));
    keysDir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-staff-cli-'));
  });
  after(async () => {
    await tg.close();
    await rm(keysDir, { recursive: true, force: true });
  });

  async function staff(action: string, cardId: string, body: object, key: string | undefined, token = ALICE): Promise<Answer> {
    const res = await fetch(`${tg.url}/admin/v1/cards/${cardId}/${action}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...(key !== undefined && { 'Idempotency-Key': key }) },
      body: JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Answer['body'] };
  }

  async function auditOf(cardId: string): Promise<AuditEntry[]> {
    return auditLogModel(conn()).find({ target: `card:${cardId}` }).sort({ created_at: 1, _id: 1 }).lean<AuditEntry[]>();
  }

  async function ordersOfCard(cardId: string, type: Order['order_type']): Promise<Order[]> {
    return orderModel(conn()).find({ card_id: cardId, order_type: type }).lean<Order[]>();
  }

  /** A staff refusal: its slug and status, and the stored order it left (refused, failed, made by staff). */
  async function refused(answer: Answer, slug: string, status: number): Promise<Order> {
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    assert.equal(answer.body.error?.slug, slug);
    const order = await storedOrder(conn(), answer.body.error.order_id!);
    assert.deepEqual([order.status, order.rejected, order.last_error_slug, order.created_by], ['failed', true, slug, 'staff:alice']);
    return order;
  }

  it('when staff freeze, unfreeze and terminate a card through the admin API, then the provider and the gateway card follow, each order is made by staff and audited with its reason, and a repeat is a replay', async () => {
    const card = await issueCard(conn(), client, product.product_code, user, '5.00');
    const key = randomUUID();

    const frozen = await staff('freeze', card._id, { reason: 'reported stolen' }, key);
    assert.equal(frozen.status, 201, JSON.stringify(frozen.body));
    const view = frozen.body.data!;
    assert.deepEqual([view.order_type, view.card_id, view.project_id, view.created_by], ['card_freeze', card._id, project._id, 'staff:alice']);
    const freezeOrder = await finished(conn(), view.order_id as string);
    assert.deepEqual([freezeOrder.status, freezeOrder.provider_card_status, freezeOrder.created_by, freezeOrder.idempotency_key], ['completed', 'inactive', 'staff:alice', key]);
    assert.equal((await storedCard(conn(), card._id)).status, 'frozen');
    assert.equal((await providerCard(card)).status, 'inactive');
    assert.deepEqual(await entriesOf(conn(), freezeOrder._id), [], 'a status change moves no money');

    // The same key again: the same order, nothing new at the provider or in the store.
    const again = await staff('freeze', card._id, { reason: 'reported stolen' }, key);
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.data!.order_id, freezeOrder._id);
    assert.equal((await ordersOfCard(card._id, 'card_freeze')).length, 1);

    // Order lookup shows it with its origin, and the partner sees the card frozen.
    const lookup = await fetch(`${tg.url}/admin/v1/orders?card_id=${card._id}&order_type=card_freeze`, { headers: { Authorization: `Bearer ${ALICE}` } });
    const page = (await lookup.json()) as { data: { orders: { order_id: string; created_by: string | null; status: string }[] } };
    assert.deepEqual(page.data.orders.map((o) => [o.order_id, o.created_by, o.status]), [[freezeOrder._id, 'staff:alice', 'completed']]);
    assert.equal((await client.listCards({ status: 'frozen' })).data.cards.some((c) => c.card_id === card._id), true);

    const unfrozen = await staff('unfreeze', card._id, { reason: 'found again' }, randomUUID());
    assert.equal(unfrozen.status, 201);
    assert.equal((await finished(conn(), unfrozen.body.data!.order_id as string)).status, 'completed');
    assert.equal((await storedCard(conn(), card._id)).status, 'active');
    assert.equal((await providerCard(card)).status, 'active');

    const terminated = await staff('terminate', card._id, { reason: 'fraud confirmed' }, randomUUID());
    assert.equal(terminated.status, 201);
    const terminateOrder = await finished(conn(), terminated.body.data!.order_id as string);
    assert.deepEqual([terminateOrder.status, terminateOrder.created_by], ['completed', 'staff:alice']);
    assert.equal((await storedCard(conn(), card._id)).status, 'terminated');
    assert.equal((await providerCard(card)).status, 'terminated');
    assert.equal(await cardTerminationModel(conn()).countDocuments({ _id: card._id }), 1);

    const audit = await auditOf(card._id);
    assert.deepEqual(
      audit.map((e) => [e.action, e.staff, e.via, e.outcome, e.summary.reason, e.summary.project_id]),
      [
        ['card.freeze', 'alice', 'admin_api', 'applied', 'reported stolen', project._id],
        ['card.freeze', 'alice', 'admin_api', 'applied', 'reported stolen', project._id],
        ['card.unfreeze', 'alice', 'admin_api', 'applied', 'found again', project._id],
        ['card.terminate', 'alice', 'admin_api', 'applied', 'fraud confirmed', project._id],
      ],
    );
    assert.deepEqual(audit.map((e) => e.result), [
      { order_id: freezeOrder._id, replayed: false },
      { order_id: freezeOrder._id, replayed: true },
      { order_id: unfrozen.body.data!.order_id, replayed: false },
      { order_id: terminateOrder._id, replayed: false },
    ]);
  });

  it('when staff ask for what the card state refuses, for an unknown card, without a key or reason, or with a key used for something else, then each answer has its slug, and the audit log records the failure', async () => {
    const card = await issueCard(conn(), client, product.product_code, user);

    const noKey = await staff('freeze', card._id, { reason: 'x' }, undefined);
    assert.deepEqual([noKey.status, noKey.body.error?.slug], [400, 'idempotency_key_required']);
    const noReason = await staff('freeze', card._id, {}, randomUUID());
    assert.deepEqual([noReason.status, noReason.body.error?.slug], [400, 'validation_error']);
    const unknownField = await staff('freeze', card._id, { reason: 'x', status: 'frozen' }, randomUUID());
    assert.deepEqual([unknownField.status, unknownField.body.error?.slug], [400, 'validation_error']);
    const anonymous = await staff('freeze', card._id, { reason: 'x' }, randomUUID(), 'not-a-staff-token-0123456789abcdef0123');
    assert.deepEqual([anonymous.status, anonymous.body.error?.slug], [401, 'unauthorized']);
    const unknown = await staff('freeze', 'card_missing', { reason: 'x' }, randomUUID());
    assert.deepEqual([unknown.status, unknown.body.error?.slug], [404, 'not_found']);
    assert.equal(await orderModel(conn()).countDocuments({ 'data.card_id': 'card_missing' }), 0, 'nothing stored for an unknown card');
    assert.deepEqual(await auditOf('card_missing'), []);
    assert.deepEqual(await ordersOfCard(card._id, 'card_freeze'), [], 'no order for a request refused before the rules');

    await refused(await staff('unfreeze', card._id, { reason: 'x' }, randomUUID()), 'card_not_frozen', 409);
    const key = randomUUID();
    assert.equal((await finished(conn(), (await staff('freeze', card._id, { reason: 'hold' }, key)).body.data!.order_id as string)).status, 'completed');
    await refused(await staff('freeze', card._id, { reason: 'hold' }, randomUUID()), 'card_already_frozen', 409);
    // The key of the freeze with another operation, and a key the partner used.
    const reused = await staff('unfreeze', card._id, { reason: 'hold' }, key);
    assert.deepEqual([reused.status, reused.body.error?.slug], [409, 'idempotency_key_reused']);
    const partnerKey = randomUUID();
    await finished(conn(), (await client.unfreeze({ card_id: card._id }, { idempotencyKey: partnerKey })).data.order_id);
    const partners = await staff('freeze', card._id, { reason: 'x' }, partnerKey);
    assert.deepEqual([partners.status, partners.body.error?.slug], [409, 'idempotency_key_reused']);

    // A card whose issue order has not ended (planted: the issuing order put back in flight).
    const other = await issueCard(conn(), client, product.product_code, user);
    await orderModel(conn()).collection.updateOne({ _id: other.order_id } as never, { $set: { status: 'processing' } });
    try {
      await refused(await staff('freeze', other._id, { reason: 'x' }, randomUUID()), 'card_not_ready', 409);
    } finally {
      await orderModel(conn()).collection.updateOne({ _id: other.order_id } as never, { $set: { status: 'completed' } });
    }

    assert.equal((await finished(conn(), (await staff('terminate', card._id, { reason: 'closed' }, randomUUID())).body.data!.order_id as string)).status, 'completed');
    for (const action of ['freeze', 'unfreeze', 'terminate']) {
      await refused(await staff(action, card._id, { reason: 'x' }, randomUUID()), 'card_terminated', 409);
    }
    // A repeat of a refused request is the same refusal, from the same stored order.
    const refusedKey = randomUUID();
    const first = await refused(await staff('freeze', card._id, { reason: 'x' }, refusedKey), 'card_terminated', 409);
    const repeat = await staff('freeze', card._id, { reason: 'x' }, refusedKey);
    assert.equal(repeat.headers.get('idempotent-replayed'), 'true');
    assert.equal((await refused(repeat, 'card_terminated', 409))._id, first._id);

    const failures = (await auditOf(card._id)).filter((e) => e.outcome === 'failed').map((e) => [e.action, e.error_slug]);
    assert.deepEqual(failures, [
      ['card.unfreeze', 'card_not_frozen'],
      ['card.freeze', 'card_already_frozen'],
      ['card.unfreeze', 'idempotency_key_reused'],
      ['card.freeze', 'idempotency_key_reused'],
      ['card.freeze', 'card_terminated'],
      ['card.unfreeze', 'card_terminated'],
      ['card.terminate', 'card_terminated'],
      ['card.freeze', 'card_terminated'],
      ['card.freeze', 'card_terminated'],
    ]);
    assert.deepEqual((await auditOf(other._id)).map((e) => [e.action, e.outcome, e.error_slug]), [['card.freeze', 'failed', 'card_not_ready']]);
  });

  it('when staff use npm run admin -- cards …, then the order is made and driven to its end as through the API, audited as the CLI user, and refusals exit with their codes', async () => {
    const card = await issueCard(conn(), client, product.product_code, user);
    const env = { MONGODB_URI: uriOf(conn()), GATEWAY_KEYS_DIR: keysDir, ...simulatorEnv() };
    const key = randomUUID();
    const cli = (args: string[]) => runScript('admin', ['cards', ...args, '--as', 'carol'], env);

    const frozen = await cli(['freeze', card._id, '--reason', 'card lost', '--idempotency-key', key, '--json']);
    assert.equal(frozen.code, 0, frozen.stdout + frozen.stderr);
    const shown = JSON.parse(frozen.stdout) as Record<string, unknown>;
    assert.deepEqual([shown.order_type, shown.status, shown.created_by, shown.replayed, shown.still_running], ['card_freeze', 'completed', 'staff:carol', false, false]);
    const order = await storedOrder(conn(), shown.order_id as string);
    assert.deepEqual([order.status, order.provider_card_status, order.created_by, order.idempotency_key], ['completed', 'inactive', 'staff:carol', key]);
    assert.equal((await storedCard(conn(), card._id)).status, 'frozen');
    assert.equal((await providerCard(card)).status, 'inactive');

    const replay = await cli(['freeze', card._id, '--reason', 'card lost', '--idempotency-key', key, '--json']);
    assert.equal(replay.code, 0, replay.stderr);
    assert.deepEqual([(JSON.parse(replay.stdout) as Record<string, unknown>).order_id, (JSON.parse(replay.stdout) as Record<string, unknown>).replayed], [order._id, true]);
    assert.equal((await ordersOfCard(card._id, 'card_freeze')).length, 1);

    const table = await cli(['unfreeze', card._id, '--reason', 'found', '--idempotency-key', randomUUID()]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^order_type\s+card_unfreeze$/m);
    assert.match(table.stdout, /^status\s+completed$/m);
    assert.equal((await storedCard(conn(), card._id)).status, 'active');

    const again = await cli(['unfreeze', card._id, '--reason', 'found', '--idempotency-key', randomUUID()]);
    assert.equal(again.code, 4, again.stderr);
    assert.match(again.stderr, /card_not_frozen/);
    const missing = await cli(['freeze', 'card_missing', '--reason', 'x', '--idempotency-key', randomUUID()]);
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(missing.stderr, /not_found: Card not found/);
    const noKey = await cli(['freeze', card._id, '--reason', 'x']);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /--idempotency-key is required/);
    const noReason = await cli(['freeze', card._id, '--idempotency-key', randomUUID()]);
    assert.equal(noReason.code, 2);
    assert.match(noReason.stderr, /reason/);

    const terminated = await cli(['terminate', card._id, '--reason', 'closed by support', '--idempotency-key', randomUUID(), '--json']);
    assert.equal(terminated.code, 0, terminated.stderr);
    assert.equal((JSON.parse(terminated.stdout) as Record<string, unknown>).status, 'completed');
    assert.equal((await storedCard(conn(), card._id)).status, 'terminated');
    assert.equal((await providerCard(card)).status, 'terminated');
    const refusal = await cli(['freeze', card._id, '--reason', 'x', '--idempotency-key', randomUUID()]);
    assert.equal(refusal.code, 4);
    assert.match(refusal.stderr, /card_terminated/);

    const audit = await auditOf(card._id);
    assert.deepEqual(
      audit.map((e) => [e.action, e.staff, e.via, e.outcome, e.summary.reason, e.error_slug ?? null]),
      [
        ['card.freeze', 'carol', 'cli', 'applied', 'card lost', null],
        ['card.freeze', 'carol', 'cli', 'applied', 'card lost', null],
        ['card.unfreeze', 'carol', 'cli', 'applied', 'found', null],
        ['card.unfreeze', 'carol', 'cli', 'failed', 'found', 'card_not_frozen'],
        ['card.terminate', 'carol', 'cli', 'applied', 'closed by support', null],
        ['card.freeze', 'carol', 'cli', 'failed', 'x', 'card_terminated'],
      ],
    );
  });

  it('when a staff freeze races a partner terminate on the same card, round after round, then every card ends terminated at the gateway and at the provider', async () => {
    const rounds = 6;
    const cards: Card[] = [];
    for (let i = 0; i < rounds; i++) cards.push(await issueCard(conn(), client, product.product_code, user));
    await Promise.all(
      cards.map(async (card, i) => {
        const calls = [
          async () => {
            const answer = await staff('freeze', card._id, { reason: 'race' }, randomUUID());
            return answer.status === 201 ? [answer.body.data!.order_id as string] : [];
          },
          async () => [(await client.terminate({ card_id: card._id })).data.order_id],
        ];
        if (i % 2 === 1) calls.reverse();
        const ids = (await Promise.all(calls.map((c) => c()))).flat();
        await Promise.all(ids.map((id) => finished(conn(), id)));
      }),
    );
    await new Promise((r) => setTimeout(r, 300));
    for (const card of cards) {
      assert.equal((await storedCard(conn(), card._id)).status, 'terminated', `gateway card ${card._id}`);
      assert.equal((await providerCard(card)).status, 'terminated', `provider card ${card._id}`);
      const freezes = await ordersOfCard(card._id, 'card_freeze');
      assert.ok(freezes.every((o) => o.created_by === 'staff:alice'), 'the staff orders are marked as such');
    }
  });

  it('when a partner repeats a key staff used, then it is idempotency_key_reused: a partner request never replays a staff order', async () => {
    const card = await issueCard(conn(), client, product.product_code, user);
    const key = randomUUID();
    await finished(conn(), (await staff('freeze', card._id, { reason: 'hold' }, key)).body.data!.order_id as string);
    const err = await expectApiError(client.freeze({ card_id: card._id }, { idempotencyKey: key }));
    assert.equal(err.slug, 'idempotency_key_reused');
  });
});
