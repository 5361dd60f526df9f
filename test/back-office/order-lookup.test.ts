import assert from 'node:assert/strict';
import type { Connection } from 'mongoose';
import request from 'supertest';
import type { Express } from 'express';
import { createGateway } from '../../src/app.js';
import { orderModel, type IssueStatus, type Order, type OrderStatus } from '../../src/orders/order-model.js';
import type { Slug } from '../../src/errors/slugs.js';
import { OrderLookup } from '../../src/back-office/order-lookup.js';
import { testConfig } from '../support/test-config.js';
import { testLogger } from '../support/log-capture.js';
import { dropIsolatedDb, isolatedDb } from '../support/isolated-db.js';

const TOKEN = 'support-token-0123456789abcdef0123456789';
const STATUSES: OrderStatus[] = ['new', 'activating', 'processing', 'completed', 'failed', 'failed'];
const SLUGS: Slug[] = ['provider_declined', 'insufficient_funds', 'provider_timeout'];
const BASE = Date.UTC(2026, 0, 1);
const ISSUE_STATUSES: IssueStatus[] = ['card_create_error', 'initial_topup_done', 'completed'];

function makeOrders(): Order[] {
  return Array.from({ length: 90 }, (_, i) => {
    const status = STATUSES[i % STATUSES.length]!;
    const failed = status === 'failed';
    const at = new Date(BASE + Math.floor(i / 3) * 60_000); // three orders share each instant: the _id breaks ties
    return {
      _id: `ord_lookup_${String((i * 37) % 90).padStart(3, '0')}`,
      project_id: `prj_lookup_${i % 3}`,
      order_type: 'card_issue',
      idempotency_key: `key-${i}`,
      request_hash: 'h',
      status,
      is_issued: status === 'completed',
      external_user_id: `user_${i % 4}`,
      external_id: `ext_${i % 5}`,
      ...(i % 2 === 0 && { card_id: `card_${i % 7}` }),
      issue_status: ISSUE_STATUSES[i % ISSUE_STATUSES.length]!,
      data: { currency: 'USD', total_charge: 1000 + i, issue_fee: 100, initial_balance: 900 + i },
      rejected: failed && i % 4 === 0,
      ...(failed && { last_error_slug: SLUGS[Math.floor(i / 6) % SLUGS.length]!, last_error: 'x', failed_at: at }),
      attempts: 0,
      created_at: at,
      updated_at: at,
    };
  });
}

function newestFirst(a: Order, b: Order): number {
  return b.created_at.getTime() - a.created_at.getTime() || (a._id < b._id ? 1 : a._id > b._id ? -1 : 0);
}

describe('order lookup (admin API on the real store)', function () {
  this.timeout(60_000);
  let connection: Connection;
  let app: Express;
  let all: Order[];

  before(async () => {
    connection = await isolatedDb('lookup');
    const gateway = await createGateway({ config: testConfig({ ADMIN_TOKENS: `support:${TOKEN}` }), logger: testLogger, connection });
    app = gateway.app;
    all = makeOrders();
    await orderModel(connection).collection.insertMany(all.map((o) => ({ ...o })) as never[]);
  });
  after(async () => {
    await dropIsolatedDb(connection);
  });

  async function pageThrough(query: Record<string, string>, limit: number): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const res = await request(app)
        .get('/admin/v1/orders')
        .query({ ...query, limit: String(limit), ...(cursor && { cursor }) })
        .set('Authorization', `Bearer ${TOKEN}`)
        .expect(200);
      const page = res.body.data as { orders: { order_id: string }[]; next_cursor: string | null };
      assert.ok(page.orders.length <= limit);
      ids.push(...page.orders.map((o) => o.order_id));
      cursor = page.next_cursor;
      if (!cursor) return ids;
    }
    throw new Error('paging did not end');
  }

  const cases: { name: string; query: Record<string, string>; match: (o: Order) => boolean }[] = [
    { name: 'no filter', query: {}, match: () => true },
    { name: 'status', query: { status: 'failed' }, match: (o) => o.status === 'failed' },
    { name: 'last_error_slug', query: { last_error_slug: 'provider_declined' }, match: (o) => o.last_error_slug === 'provider_declined' },
    { name: 'project_id', query: { project_id: 'prj_lookup_1' }, match: (o) => o.project_id === 'prj_lookup_1' },
    {
      name: 'external_user_id',
      query: { project_id: 'prj_lookup_2', external_user_id: 'user_1' },
      match: (o) => o.project_id === 'prj_lookup_2' && o.external_user_id === 'user_1',
    },
    {
      name: 'external_id',
      query: { project_id: 'prj_lookup_0', external_id: 'ext_3' },
      match: (o) => o.project_id === 'prj_lookup_0' && o.external_id === 'ext_3',
    },
    { name: 'card_id', query: { card_id: 'card_3' }, match: (o) => o.card_id === 'card_3' },
    {
      name: 'idempotency_key',
      query: { project_id: 'prj_lookup_1', idempotency_key: 'key-4' },
      match: (o) => o.project_id === 'prj_lookup_1' && o.idempotency_key === 'key-4',
    },
    { name: 'issue_status', query: { issue_status: 'card_create_error' }, match: (o) => o.issue_status === 'card_create_error' },
    {
      name: 'created_at range',
      query: { from: new Date(BASE + 5 * 60_000).toISOString(), to: new Date(BASE + 17 * 60_000).toISOString() },
      match: (o) => o.created_at.getTime() >= BASE + 5 * 60_000 && o.created_at.getTime() < BASE + 17 * 60_000,
    },
    {
      name: 'status, slug, project and range together',
      query: { status: 'failed', last_error_slug: 'provider_timeout', project_id: 'prj_lookup_2', from: new Date(BASE).toISOString() },
      match: (o) => o.status === 'failed' && o.last_error_slug === 'provider_timeout' && o.project_id === 'prj_lookup_2',
    },
  ];

  for (const c of cases) {
    it(`when filtered by ${c.name}, then every page together holds exactly the matching orders, newest first, with counts per slug`, async () => {
      const expected = all.filter(c.match).sort(newestFirst);
      assert.ok(expected.length > 0, 'the case selects something');
      for (const limit of [1, 4, 500]) {
        assert.deepEqual(await pageThrough(c.query, limit), expected.map((o) => o._id), `limit ${limit}`);
      }

      const counts = await request(app).get('/admin/v1/orders/slug-counts').query(c.query).set('Authorization', `Bearer ${TOKEN}`).expect(200);
      const want = new Map<string | null, number>();
      for (const o of expected) want.set(o.last_error_slug ?? null, (want.get(o.last_error_slug ?? null) ?? 0) + 1);
      const got = counts.body.data as { total: number; by_slug: { slug: string | null; count: number }[] };
      assert.equal(got.total, expected.length);
      assert.deepEqual(new Map(got.by_slug.map((g) => [g.slug, g.count])), want);
    });
  }

  it('when orders are inserted between pages, then the remaining pages neither repeat nor skip an order', async () => {
    const lookup = new OrderLookup(connection);
    const first = await lookup.find({ status: 'completed' }, { limit: 5 });
    const orders = orderModel(connection).collection;
    const newer: Order = { ...all[3]!, _id: 'ord_lookup_new', idempotency_key: 'key-new', status: 'completed', created_at: new Date(BASE + 99 * 60_000) };
    const tie: Order = { ...newer, _id: 'ord_lookup_tie', idempotency_key: 'key-tie', created_at: new Date(BASE + 1 * 60_000) };
    await orders.insertMany([{ ...newer }, { ...tie }] as never[]);
    try {
      const ids = first.orders.map((o) => o.order_id);
      let cursor = first.next_cursor;
      while (cursor) {
        const page = await lookup.find({ status: 'completed' }, { limit: 5, cursor });
        ids.push(...page.orders.map((o) => o.order_id));
        cursor = page.next_cursor;
      }
      const expected = [...all, tie].filter((o) => o.status === 'completed').sort(newestFirst).map((o) => o._id);
      assert.deepEqual(ids, expected, 'the older insert appears in its place; the newer one belongs to a fresh search');
    } finally {
      await orders.deleteMany({ _id: { $in: ['ord_lookup_new', 'ord_lookup_tie'] } } as never);
    }
  });

  it('when a filter or cursor is malformed, then the answer is validation_error naming the field and nothing of its value', async () => {
    const bad: Record<string, string>[] = [
      { status: 'lost' },
      { last_error_slug: 'no_such_slug' },
      { external_user_id: 'user_1' },
      { idempotency_key: 'key-4' },
      { issue_status: 'card_lost' },
      { from: 'yesterday' },
      { cursor: 'not-a-cursor' },
      { limit: '0' },
      { colour: 'red' },
    ];
    for (const query of bad) {
      const res = await request(app).get('/admin/v1/orders').query(query).set('Authorization', `Bearer ${TOKEN}`).expect(400);
      assert.equal(res.body.error.slug, 'validation_error', JSON.stringify(query));
      assert.ok(res.body.error.issues.length > 0);
      const value = Object.values(query)[0]!;
      if (value.length > 3) assert.ok(!JSON.stringify(res.body).includes(value), JSON.stringify(res.body));
    }
  });

  it('when an order carries a slug this version does not know, then the counts per slug still add up to the total and name it', async () => {
    const orders = orderModel(connection);
    const legacy = { ...all[0]!, _id: 'ord_lookup_legacy', idempotency_key: 'key-legacy', status: 'failed', last_error_slug: 'retired_slug' };
    await orders.collection.insertOne(legacy as never);
    try {
      const counts = await new OrderLookup(connection).countBySlug({});
      assert.equal(counts.total, all.length + 1);
      assert.equal(counts.by_slug.reduce((n, g) => n + g.count, 0), counts.total);
      assert.equal(counts.by_slug.find((g) => g.slug === 'retired_slug')?.count, 1);
    } finally {
      await orders.deleteOne({ _id: legacy._id });
    }
  });

  it('when one order is asked for, then it comes in the wire format with money as decimal strings', async () => {
    const target = all[10]!;
    const res = await request(app).get(`/admin/v1/orders/${target._id}`).set('Authorization', `Bearer ${TOKEN}`).expect(200);
    assert.equal(res.body.data.order_id, target._id);
    assert.equal(res.body.data.project_id, target.project_id);
    assert.equal(res.body.data.data.total_charge, (target.data.total_charge! / 100).toFixed(2));
    await request(app).get('/admin/v1/orders/ord_missing').set('Authorization', `Bearer ${TOKEN}`).expect(404);
  });
});
