import assert from 'node:assert/strict';
import { GatewayApiError, type CardListItem, type PartnerClient } from '@card-gateway/client';
import { cardModel } from '../../src/cards/card-model.js';
import { orderModel } from '../../src/orders/order-model.js';
import type { Product } from '../../src/products/product-model.js';
import type { Project } from '../../src/projects/project-model.js';
import { waitUntil } from '../support/gateway-process.js';
import { chainOf, deposit, makeCardholder, makeProduct } from '../support/orders-fixtures.js';
import { clientFor, createTestProject, expectApiError, startTestGateway, type TestGateway, type TestProject } from '../support/partner.js';
import { testStore } from '../support/test-store.js';

/** cards/list, orders/list and balance through the partner client, against the real store. */
describe('partner lists, balance and statement', function () {
  this.timeout(90_000);
  const conn = () => testStore().connection;
  let tg: TestGateway;
  let client: PartnerClient;
  let project: Project;
  let keys: TestProject['keys'];
  let product: Product;
  let alice: string;
  let bob: string;
  let orderIds: string[];
  let failedId: string;

  /** Every page of a list, following next_cursor to the end. */
  async function allPages<T>(fetchPage: (cursor?: string) => Promise<{ items: T[]; next: string | null }>): Promise<{ items: T[]; pages: number }> {
    const items: T[] = [];
    let cursor: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await fetchPage(cursor);
      pages++;
      items.push(...page.items);
      if (!page.next) return { items, pages };
      cursor = page.next;
    }
  }

  const newestFirst = <T extends { created_at: Date; _id: string }>(rows: T[]) =>
    [...rows].sort((a, b) => b.created_at.getTime() - a.created_at.getTime() || (a._id < b._id ? 1 : a._id > b._id ? -1 : 0)).map((r) => r._id);

  before(async () => {
    tg = await startTestGateway({
      config: { WORKER_ENABLED: 'true', WORKER_POLL_MS: '20', PROVIDER_RETRY_BASE_MS: '5', PROVIDER_MAX_ATTEMPTS: '2', RATE_LIMIT_PER_ADDRESS: '1000000', RATE_LIMIT_PER_PROJECT: '1000000' },
    });
    await tg.gateway.start();
    ({ client, project, keys } = await createTestProject({ url: tg.url }));
    product = await makeProduct(conn(), { issue_fee: 250 });
    alice = await makeCardholder(conn(), project._id);
    bob = await makeCardholder(conn(), project._id);
    await deposit(conn(), project._id, 20_000);

    // Five issued cards (three for alice), one order whose card creation is declined (refunded).
    orderIds = [];
    for (const user of [alice, bob, alice, bob, alice]) {
      orderIds.push((await client.createCard({ product_code: product.product_code, external_user_id: user, initial_balance: '10.00' })).data.order_id);
    }
    await client.call('/api/v1/sandbox/rules/set', { external_user_id: bob, create_card_failure: { failure: 'declined', times: 1 } });
    failedId = (await client.createCard({ product_code: product.product_code, external_user_id: bob, initial_balance: '5.00' })).data.order_id;
    await waitUntil(
      async () => (await orderModel(conn()).countDocuments({ project_id: project._id, order_type: 'card_issue', status: { $in: ['completed', 'failed'] } })) === 6,
      60_000,
      'every order finished',
    );
  });
  after(async () => {
    await tg.close();
  });

  describe('orders/list', () => {
    it('when the orders are paged two at a time, then every order comes once, newest first, as orders/check shows it', async () => {
      const { items, pages } = await allPages(async (cursor) => {
        const { data } = await client.listOrders({ limit: 2, ...(cursor && { cursor }) });
        return { items: data.orders, next: data.next_cursor };
      });
      const stored = await orderModel(conn()).find({ project_id: project._id }).lean();
      assert.equal(stored.length, 7, 'a deposit and six card orders');
      assert.deepEqual(items.map((o) => o.order_id), newestFirst(stored));
      assert.equal(pages, 4);
      const checked = (await client.checkOrder({ order_id: orderIds[2]! })).data;
      assert.deepEqual(items.find((o) => o.order_id === orderIds[2]), checked);
    });

    it('when filters are given, then only matching orders come: by user, status, type and time range', async () => {
      const byUser = (await client.listOrders({ external_user_id: alice })).data.orders;
      assert.deepEqual(new Set(byUser.map((o) => o.order_id)), new Set([orderIds[0], orderIds[2], orderIds[4]]));
      const failed = (await client.listOrders({ status: 'failed' })).data.orders;
      assert.deepEqual(failed.map((o) => o.order_id), [failedId]);
      const deposits = (await client.listOrders({ order_type: 'balance_deposit' })).data.orders;
      assert.deepEqual(deposits.map((o) => o.order_type), ['balance_deposit']);

      const middle = await orderModel(conn()).findById(orderIds[2]).lean();
      const from = middle!.created_at.toISOString();
      const since = (await client.listOrders({ from, order_type: 'card_issue' })).data.orders.map((o) => o.order_id);
      const expected = newestFirst(await orderModel(conn()).find({ project_id: project._id, order_type: 'card_issue', created_at: { $gte: middle!.created_at } }).lean());
      assert.deepEqual(since, expected);
      assert.ok(since.includes(orderIds[2]!) && !since.includes(orderIds[0]!));
      const before = (await client.listOrders({ to: from, order_type: 'card_issue' })).data.orders.map((o) => o.order_id);
      assert.deepEqual(new Set([...since, ...before]).size, 6, 'from and to split the orders without overlap or loss');
    });

    it('when an order failed after its charge, then its refund is on the order in orders/list and orders/check', async () => {
      const checked = (await client.checkOrder({ order_id: failedId })).data;
      assert.deepEqual([checked.status, checked.refunded_amount, checked.refunds.map((r) => r.amount)], ['failed', '7.50', ['7.50']]);
      const refundEntry = (await chainOf(conn(), project._id)).find((e) => e.kind === 'refund' && e.order_id === failedId)!;
      assert.equal(checked.refunds[0]!.ledger_seq, refundEntry.seq);
      const listed = (await client.listOrders({ status: 'failed' })).data.orders[0]!;
      assert.deepEqual(listed.refunds, checked.refunds);
      const completed = (await client.checkOrder({ order_id: orderIds[0]! })).data;
      assert.deepEqual([completed.refunded_amount, completed.refunds], ['0.00', []]);
    });

    it("when another project lists, then it sees none of this project's orders", async () => {
      const other = await createTestProject({ url: tg.url });
      const { data } = await other.client.listOrders();
      assert.deepEqual([data.orders, data.next_cursor], [[], null]);
    });
  });

  describe('cards/list', () => {
    it('when the cards are paged, then every card comes once, newest first, without its number or CVV', async () => {
      const { items } = await allPages<CardListItem>(async (cursor) => {
        const { data } = await client.listCards({ limit: 2, ...(cursor && { cursor }) });
        return { items: data.cards, next: data.next_cursor };
      });
      const stored = await cardModel(conn()).find({ project_id: project._id }).lean();
      assert.equal(stored.length, 5);
      assert.deepEqual(items.map((c) => c.card_id), newestFirst(stored));
      for (const card of items) {
        assert.deepEqual(Object.keys(card).sort(), ['balance', 'card_id', 'created_at', 'currency', 'external_user_id', 'label', 'masked_pan', 'order_id', 'product_code', 'status', 'updated_at']);
        assert.match(card.masked_pan, /^\d{6}\*+\d{4}$|^\*+\d{4}$/);
      }
    });

    it('when filtered by user and status, then only those cards come', async () => {
      const mine = (await client.listCards({ external_user_id: alice })).data.cards;
      assert.equal(mine.length, 3);
      assert.ok(mine.every((c) => c.external_user_id === alice));
      assert.equal((await client.listCards({ status: 'active' })).data.cards.length, 5);
      assert.deepEqual((await client.listCards({ status: 'terminated' })).data.cards, []);
      const future = new Date(Date.now() + 3_600_000).toISOString();
      assert.deepEqual((await client.listCards({ from: future })).data.cards, []);
    });
  });

  describe('balance', () => {
    it('when the statement is paged, then it is the ledger chain newest first, each entry with its order, and the balance its head', async () => {
      const chain = await chainOf(conn(), project._id);
      const { data: first } = await client.balance({ limit: 3 });
      assert.equal(first.balance, (chain.at(-1)!.balance_after / 100).toFixed(2));
      assert.deepEqual([first.currency, first.balance_seq], ['USD', chain.at(-1)!.seq]);
      const { items } = await allPages(async (cursor) => {
        const { data } = await client.balance({ limit: 3, ...(cursor && { cursor }) });
        return { items: data.entries, next: data.next_cursor };
      });
      assert.deepEqual(items.map((e) => e.seq), chain.map((e) => e.seq).reverse());
      const orders = new Map((await orderModel(conn()).find({ project_id: project._id }).lean()).map((o) => [o._id, o]));
      for (const entry of items) {
        const stored = chain.find((e) => e.seq === entry.seq)!;
        assert.deepEqual([entry.kind, entry.order_id, entry.amount], [stored.kind, stored.order_id, (stored.amount / 100).toFixed(2)]);
        assert.equal(entry.order_type, orders.get(entry.order_id)!.order_type);
        assert.equal(entry.card_id, orders.get(entry.order_id)!.card_id ?? null);
      }
      // Reconciliation from the partner's side: deposits - charges + refunds is the balance.
      const total = items.reduce((sum, e) => sum + Math.round(Number(e.amount) * 100), 0);
      assert.equal((total / 100).toFixed(2), first.balance);
    });

    it('when filtered by kind, then only those entries come', async () => {
      const { data } = await client.balance({ kind: 'refund' });
      assert.deepEqual(data.entries.map((e) => [e.kind, e.order_id, e.amount]), [['refund', failedId, '7.50']]);
      const charges = (await client.balance({ kind: 'charge' })).data.entries;
      assert.equal(charges.length, 6);
      assert.ok(charges.every((e) => e.amount === (e.order_id === failedId ? '-7.50' : '-12.50')));
    });

    it('when a project has no ledger yet, then the balance is 0.00 with an empty statement', async () => {
      const empty = await createTestProject({ url: tg.url });
      const { data } = await empty.client.balance();
      assert.deepEqual(data, { currency: 'USD', balance: '0.00', balance_seq: 0, entries: [], next_cursor: null });
    });
  });

  describe('refusals', () => {
    const cases: [string, string, unknown, string][] = [
      ['an unknown field', '/api/v1/orders/list', { colour: 'red' }, '(body)'],
      ['a bad cursor', '/api/v1/orders/list', { cursor: 'not-a-cursor' }, 'cursor'],
      ['a limit of 0', '/api/v1/cards/list', { limit: 0 }, 'limit'],
      ['a limit over 200', '/api/v1/balance', { limit: 201 }, 'limit'],
      ['a bad cursor', '/api/v1/cards/list', { cursor: Buffer.from('[1,2,3]').toString('base64url') }, 'cursor'],
      ['a bad cursor', '/api/v1/balance', { cursor: Buffer.from('["seq",-1]').toString('base64url') }, 'cursor'],
      ['an orders/list cursor', '/api/v1/balance', { cursor: Buffer.from(JSON.stringify([Date.now(), 'ord_x'])).toString('base64url') }, 'cursor'],
      ['an unknown status', '/api/v1/cards/list', { status: 'lost' }, 'status'],
      ['an unknown order type', '/api/v1/orders/list', { order_type: 'card_swap' }, 'order_type'],
      ['an unknown ledger kind', '/api/v1/balance', { kind: 'fee' }, 'kind'],
      ['a time range ending before it starts', '/api/v1/orders/list', { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'to'],
      ['a date that is not ISO 8601', '/api/v1/cards/list', { from: 'yesterday' }, 'from'],
      ['a body that is not an object', '/api/v1/balance', ['limit', 2], '(body)'],
    ];
    for (const [what, path, body, issuePath] of cases) {
      it(`when ${path} gets ${what}, then validation_error (400) names ${issuePath}, sealed`, async () => {
        const err = await expectApiError(client.call(path, body));
        assert.deepEqual([err.slug, err.status, err.sealed], ['validation_error', 400, true]);
        assert.ok(err.issues?.some((i) => i.path === issuePath || (issuePath === '(body)' && i.path === '')), JSON.stringify(err.issues));
      });
    }
  });

  describe('cursors are bound to their endpoint, project and filters', () => {
    /** The slug, status and issue path of a refusal (or 'accepted'). */
    async function outcome(call: Promise<unknown>): Promise<string> {
      try {
        await call;
        return 'accepted';
      } catch (err) {
        if (!(err instanceof GatewayApiError)) throw err;
        return `${err.status} ${err.slug} ${err.issues?.map((i) => i.path).join(',') ?? ''}`;
      }
    }
    const REFUSED = '400 validation_error cursor';

    it("when one list's cursor is given to another list, then it is refused as validation_error on cursor", async () => {
      const orders = (await client.listOrders({ limit: 1 })).data.next_cursor!;
      const cards = (await client.listCards({ limit: 1 })).data.next_cursor!;
      const entries = (await client.balance({ limit: 1 })).data.next_cursor!;
      assert.equal(await outcome(client.listCards({ cursor: orders })), REFUSED);
      assert.equal(await outcome(client.listOrders({ cursor: cards })), REFUSED);
      assert.equal(await outcome(client.listOrders({ cursor: entries })), REFUSED);
      assert.equal(await outcome(client.balance({ cursor: orders })), REFUSED);
      assert.equal(await outcome(client.listOrders({ cursor: orders })), 'accepted');
    });

    it("when another project gives this project's cursor, then it is refused", async () => {
      const other = await createTestProject({ url: tg.url });
      const cursor = (await client.listOrders({ limit: 1 })).data.next_cursor!;
      assert.equal(await outcome(other.client.listOrders({ cursor })), REFUSED);
      assert.equal(await outcome(other.client.listOrders({})), 'accepted');
    });

    it('when the filters change under a cursor, then it is refused; a different page size is not a different walk', async () => {
      const cursor = (await client.listOrders({ external_user_id: alice, limit: 1 })).data.next_cursor!;
      assert.equal(await outcome(client.listOrders({ external_user_id: bob, cursor })), REFUSED);
      assert.equal(await outcome(client.listOrders({ cursor })), REFUSED, 'dropping a filter widens the walk');
      assert.equal(await outcome(client.listOrders({ external_user_id: alice, status: 'completed', cursor })), REFUSED);
      assert.equal(await outcome(client.listOrders({ external_user_id: alice, limit: 3, cursor })), 'accepted');
      const ranged = (await client.balance({ from: '2020-01-01T00:00:00Z', limit: 1 })).data.next_cursor!;
      assert.equal(await outcome(client.balance({ from: '2020-01-01T00:00:00.000Z', cursor: ranged })), 'accepted', 'the same instant written otherwise');
      assert.equal(await outcome(client.balance({ from: '2020-01-01T00:00:01Z', cursor: ranged })), REFUSED);
    });

    it('when a cursor is hand-made or altered, then it is refused', async () => {
      const real = (await client.listCards({ limit: 1 })).data.next_cursor!;
      const [position, keyId, mac] = real.split('.') as [string, string, string];
      const flipped = `${mac.slice(0, -2)}${mac.at(-2) === 'A' ? 'B' : 'A'}${mac.at(-1)}`;
      const otherPosition = Buffer.from(JSON.stringify([Date.now(), 'card_zzzzzzzzzz'])).toString('base64url');
      for (const forged of [`${position}.${keyId}.${flipped}`, `${otherPosition}.${keyId}.${mac}`, `${position}.ck_nokey.${mac}`, position, Buffer.from(JSON.stringify([Date.now(), 'card_x'])).toString('base64url')]) {
        assert.equal(await outcome(client.listCards({ cursor: forged })), REFUSED, forged);
      }
    });

    it('when CURSOR_KEYS rotates (new key first, old kept), then cursors made under the old key still page; once the old key is dropped they are refused', async () => {
      const [oldKey, newKey] = ['old:'.padEnd(40, 'o'), 'new:'.padEnd(40, 'n')];
      const oldOnly = await startTestGateway({ config: { CURSOR_KEYS: oldKey } });
      const both = await startTestGateway({ config: { CURSOR_KEYS: `${newKey},${oldKey}` } });
      const newOnly = await startTestGateway({ config: { CURSOR_KEYS: newKey } });
      try {
        const cursor = (await clientFor(oldOnly.url, project._id, keys).listOrders({ limit: 1 })).data.next_cursor!;
        assert.match(cursor, /\.old\./);
        const next = await clientFor(both.url, project._id, keys).listOrders({ limit: 1, cursor });
        assert.match(next.data.next_cursor!, /\.new\./, 'the first key signs');
        assert.equal(await outcome(clientFor(newOnly.url, project._id, keys).listOrders({ cursor })), REFUSED);
        assert.equal(await outcome(clientFor(newOnly.url, project._id, keys).listOrders({ cursor: next.data.next_cursor! })), 'accepted');
      } finally {
        await Promise.all([oldOnly.close(), both.close(), newOnly.close()]);
      }
    });

    it('when two gateways share the development key folder, then a cursor from one pages on the other', async () => {
      const second = await startTestGateway();
      try {
        const cursor = (await client.listOrders({ limit: 2 })).data.next_cursor!;
        const page = await clientFor(second.url, project._id, keys).listOrders({ limit: 2, cursor });
        assert.equal(page.data.orders.length, 2);
      } finally {
        await second.close();
      }
    });
  });
});
