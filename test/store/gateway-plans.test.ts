import assert from 'node:assert/strict';
import type { Connection, Model } from 'mongoose';
import { cardModel } from '../../src/cards/card-model.js';
import { cardholderModel } from '../../src/cardholders/cardholder-model.js';
import { ledgerEntryModel } from '../../src/ledger/ledger-entry-model.js';
import { orderModel } from '../../src/orders/order-model.js';
import { RECONCILE_FIELDS } from '../../src/reconcile/reconciler.js';
import { webhookModels } from '../../src/webhooks/webhook-models.js';
import { dropIsolatedDb, isolatedDb } from '../support/isolated-db.js';

/**
 * The plan (SQLite's EXPLAIN QUERY PLAN, through the store's `explain`) of every query on a large
 * collection that the gateway, the admin API's order lookup and reconciliation issue: each must
 * search one of the declared indexes, and those that sort must not sort in a temporary B-tree (a
 * first page would then read every matching order). Skipped on MongoDB, whose plans differ.
 */
type Sort = Record<string, 1 | -1>;
interface Case {
  name: string;
  model: () => Model<never>;
  filter: Record<string, unknown>;
  sort?: Sort;
  projection?: Readonly<Record<string, 0 | 1>>;
  /** At most one row matches (a unique index's every field is bound): a sort of it is free. */
  single?: boolean;
}

const at = new Date('2026-03-01T00:00:00Z');
const newest: Sort = { created_at: -1, _id: -1 };
const cursorBound = {
  $and: [{ created_at: { $lte: at } }, { $or: [{ created_at: { $lt: at } }, { created_at: at, _id: { $lt: 'ord_x' } }] }],
};

describe('store plans of the gateway, admin and reconciliation queries', function () {
  let connection: Connection;
  const models = {
    orders: () => orderModel(connection) as unknown as Model<never>,
    ledger: () => ledgerEntryModel(connection) as unknown as Model<never>,
    cards: () => cardModel(connection) as unknown as Model<never>,
    cardholders: () => cardholderModel(connection) as unknown as Model<never>,
    events: () => webhookModels(connection).events as unknown as Model<never>,
    attempts: () => webhookModels(connection).attempts as unknown as Model<never>,
  };

  const lookups: [string, Record<string, unknown>][] = [
    ['status', { status: 'failed' }],
    ['slug', { last_error_slug: 'provider_declined' }],
    ['project', { project_id: 'prj_1' }],
    ['project + user', { project_id: 'prj_1', external_user_id: 'u1' }],
    ['project + external id', { project_id: 'prj_1', external_id: 'e1' }],
    ['time range', { created_at: { $gte: new Date(0), $lt: at } }],
    ['card id', { card_id: 'card_1' }],
    ['issue status', { issue_status: 'card_create_error' }],
    ['slug + time range', { last_error_slug: 'provider_declined', created_at: { $gte: new Date(0), $lt: at } }],
    ['no slug + time range (counts)', { last_error_slug: null, created_at: { $gte: new Date(0), $lt: at } }],
  ];

  const cases: Case[] = [
    ...lookups.flatMap(([name, filter]): Case[] => [
      { name: `lookup by ${name}: first page`, model: models.orders, filter, sort: newest },
      { name: `lookup by ${name}: deep page`, model: models.orders, filter: { ...filter, ...cursorBound }, sort: newest },
      { name: `lookup by ${name}: count`, model: models.orders, filter },
    ]),
    { name: 'lookup by idempotency key', model: models.orders, filter: { project_id: 'prj_1', idempotency_key: 'k' }, sort: newest, single: true },
    { name: 'create: order by idempotency key', model: models.orders, filter: { project_id: 'prj_1', idempotency_key: 'k' }, single: true },
    { name: 'create: ledger head', model: models.ledger, filter: { project_id: 'prj_1' }, sort: { seq: -1 } },
    { name: 'create: ledger entry of an order', model: models.ledger, filter: { project_id: 'prj_1', order_id: 'o', kind: 'charge' }, single: true },
    { name: 'create: card of an order', model: models.cards, filter: { project_id: 'prj_1', order_id: 'o' }, single: true },
    { name: 'cardholder by user', model: models.cardholders, filter: { project_id: 'prj_1', external_user_id: 'u' }, single: true },
    ...['new', 'activating', 'processing'].map((status): Case => ({ name: `worker start: unfinished orders (${status})`, model: models.orders, filter: { status } })),
    { name: 'card events: latest event of a card (its chain head)', model: models.events, filter: { project_id: 'prj_1', subject_id: 'card_1' }, sort: { sequence: -1 } },
    { name: 'dispatch: earlier pending event of a subject', model: models.events, filter: { project_id: 'prj_1', subject_id: 'card_1', sequence: { $lt: 3 }, status: 'pending' }, sort: { sequence: 1 } },
    { name: 'reconcile: ledger in seq order', model: models.ledger, filter: { project_id: 'prj_1' }, sort: { seq: 1 } },
    { name: 'reconcile: orders in _id order', model: models.orders, filter: { project_id: 'prj_1' }, sort: { _id: 1 } },
    { name: 'reconcile: ledger in order order', model: models.ledger, filter: { project_id: 'prj_1' }, sort: { order_id: 1, kind: 1 } },
    { name: 'reconcile: cards in order order', model: models.cards, filter: { project_id: 'prj_1' }, sort: { order_id: 1 } },
    // The reconciler's own queries, with the fields it fetches.
    { name: 'reconcile: entries beside their orders', model: models.ledger, filter: { project_id: 'prj_1' }, sort: { order_id: 1, kind: 1 }, projection: RECONCILE_FIELDS.entries },
    { name: 'reconcile: a broken chain in seq order', model: models.ledger, filter: { project_id: 'prj_1' }, sort: { seq: 1 }, projection: RECONCILE_FIELDS.chain },
    { name: 'reconcile: orders with the checked fields', model: models.orders, filter: { project_id: 'prj_1' }, sort: { _id: 1 }, projection: RECONCILE_FIELDS.orders },
    { name: 'reconcile: cards with the checked fields', model: models.cards, filter: { project_id: 'prj_1' }, sort: { order_id: 1 }, projection: RECONCILE_FIELDS.cards },
    // Updates and deletes run the same backend query as a find of their filter, so a find's plan is theirs.
    { name: 'provider webhook: the card of a provider card id', model: models.cards, filter: { provider_card_id: 'pc_1' } },
    {
      name: 'provider webhook: the card update, only forward in time',
      model: models.cards,
      filter: { provider_card_id: 'pc_1', status: { $ne: 'terminated' }, $or: [{ provider_updated_at: { $exists: false } }, { provider_updated_at: { $lt: at } }] },
    },
    {
      name: 'provider webhook: nudge the order polling its card',
      model: models.orders,
      filter: { provider_card_id: 'pc_1', status: 'activating', issue_status: 'card_create_pending', next_attempt_at: { $gt: at } },
    },
    { name: 'card events: the latest state-changing order of a card', model: models.orders, filter: { card_id: 'card_1', order_type: { $in: ['card_issue', 'card_freeze'] } }, sort: newest },
    { name: 'order events: the first page of changed orders', model: models.orders, filter: { updated_at: { $gte: at } }, sort: { updated_at: 1, _id: 1 } },
    {
      name: 'order events: the next page of changed orders',
      model: models.orders,
      filter: { updated_at: { $gte: at }, $or: [{ updated_at: { $gt: at } }, { updated_at: at, _id: { $gt: 'ord_x' } }] },
      sort: { updated_at: 1, _id: 1 },
    },
    { name: 'order events: refunds of a batch of orders', model: models.ledger, filter: { project_id: 'prj_1', order_id: { $in: ['o1', 'o2'] }, kind: 'refund' } },
    { name: 'statement: the orders of a page of entries', model: models.orders, filter: { _id: { $in: ['o1', 'o2'] }, project_id: 'prj_1' } },
    { name: 'statement: a page of entries', model: models.ledger, filter: { project_id: 'prj_1', seq: { $lt: 100 }, kind: 'charge' }, sort: { seq: -1 } },
    { name: 'cards/list: a page of a status', model: models.cards, filter: { project_id: 'prj_1', status: 'active', ...cursorBound }, sort: newest },
    { name: 'cards/list: a page of a user', model: models.cards, filter: { project_id: 'prj_1', external_user_id: 'u1' }, sort: newest },
    { name: 'reconcile: gateway cards of a page of provider cards', model: models.cards, filter: { provider_card_id: { $in: ['pc_1', 'pc_2'] } } },
    { name: 'reconcile: orders of unknown provider cards', model: models.orders, filter: { _id: { $in: ['o1', 'o2'] } } },
    { name: 'metrics: unfinished orders', model: models.orders, filter: { status: { $in: ['new', 'activating', 'processing'] } } },
    { name: 'webhook admin: events of a status', model: models.events, filter: { project_id: 'prj_1', status: 'failed' }, sort: newest },
    { name: 'webhook admin: attempts of an event', model: models.attempts, filter: { event_id: 'evt_1' }, sort: { attempt: 1 } },
    { name: 'dispatch: due pending events', model: models.events, filter: { status: 'pending', next_attempt_at: { $lte: at } } },
    { name: 'reconcile: next project of orders', model: models.orders, filter: { project_id: { $gt: 'prj_1' } }, sort: { project_id: 1 } },
    { name: 'reconcile: next project of the ledger', model: models.ledger, filter: { project_id: { $gt: 'prj_1' } }, sort: { project_id: 1 } },
  ];

  before(async function () {
    if (process.env.MONGODB_URI) this.skip();
    connection = await isolatedDb('plans');
    for (const m of Object.values(models)) await m().createIndexes();
  });
  after(async () => {
    if (connection) await dropIsolatedDb(connection);
  });

  for (const c of cases) {
    it(`when the query is "${c.name}", then it searches an index${c.sort && !c.single ? ' and sorts nothing' : ''}`, async () => {
      const res = await connection.db!.command({
        explain: { find: c.model().collection.collectionName, filter: c.filter, ...(c.sort && { sort: c.sort }), ...(c.projection && { projection: c.projection }) },
      });
      const planned = res.queryPlanner as { Plan?: string[] } | undefined;
      const plan = (planned?.Plan ?? []).join(' | ');
      assert.match(plan, /SEARCH \S+ USING (COVERING )?INDEX \S+_/, plan);
      assert.doesNotMatch(plan, /SCAN/, plan);
      if (c.sort && !c.single) {
        assert.doesNotMatch(plan, /TEMP B-TREE/, plan);
        assert.equal(res.sortPushdown, true);
      }
      assert.equal(res.filterPushdown, true);
    });
  }
});
