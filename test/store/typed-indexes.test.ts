import assert from 'node:assert/strict';
import { Types } from 'mongoose';
import { testStore } from '../support/test-store.js';

/**
 * The store's index path (store-server/patches/README.md): filters, sorts and counts answered from
 * the typed indexes must be exactly what the whole-collection path answers. Two collections hold
 * the same mixed documents; only one has indexes, so the other is always read the upstream way.
 */
type Doc = Record<string, unknown> & { _id: string };

const day = new Date('2026-01-01T00:00:00Z');
const values: unknown[] = [
  undefined, // missing
  null,
  1,
  1.0,
  2.5,
  -3,
  2 ** 40,
  '1',
  'a',
  'b',
  'ab',
  '',
  day,
  new Date(day.getTime() + 1000),
  new Date(-1000),
  true,
  false,
  new Types.ObjectId('656565656565656565656565'),
];

function docs(): Doc[] {
  const out: Doc[] = [];
  values.forEach((v, i) => {
    for (const g of ['x', 'y', undefined, 7]) {
      const d: Doc = { _id: `d${String(i).padStart(2, '0')}-${String(g)}`, n: i };
      if (v !== undefined) d.v = v;
      if (g !== undefined) d.g = g;
      out.push(d);
    }
  });
  return out;
}

const indexed = 'typed_idx';
const plain = 'typed_plain';

function coll(name: string) {
  return testStore().connection.db!.collection<Doc>(name);
}

async function both(run: (name: string) => Promise<unknown>): Promise<void> {
  const a = await run(indexed);
  const b = await run(plain);
  assert.deepEqual(a, b);
}

async function count(name: string, query: Record<string, unknown>): Promise<number> {
  const res = await testStore().connection.db!.command({ count: name, query });
  return res.n as number;
}

async function plan(filter: Record<string, unknown>, sort?: Record<string, 1 | -1>): Promise<string> {
  const res = await testStore().connection.db!.command({
    explain: { find: indexed, filter, ...(sort && { sort }) },
  });
  return ((res.queryPlanner as { Plan?: string[] } | undefined)?.Plan ?? []).join(' | ');
}

const filters: Record<string, unknown>[] = [
  { v: 1 },
  { v: 1.0 },
  { v: 2 ** 40 },
  { v: '1' },
  { v: 'a' },
  { v: null },
  { v: { $eq: null } },
  { v: true },
  { v: false },
  { v: day },
  { v: new Types.ObjectId('656565656565656565656565') },
  { v: { $gte: 1, $lt: 3 } },
  { v: { $gt: -10 } },
  { v: { $gt: 'a' } },
  { v: { $lte: 'ab' } },
  { v: { $lt: day } },
  { v: { $gte: new Date(0) } },
  { v: { $gt: false } },
  { g: 'x' },
  { g: 7 },
  { g: null },
  { g: 'x', v: { $gte: 0 } },
  { g: 'y', v: { $lt: 'b' } },
  { $and: [{ v: { $gte: 1 } }, { g: 'x' }] },
  { $and: [{ g: 'x' }, { $or: [{ v: 'a' }, { v: 1 }] }] },
  { v: { $ne: 1 } },
  { v: { $in: [1, 'a', null] } },
  { v: { $in: [1, 2.0, 2 ** 40] } },
  { v: { $in: ['a', 'ab', '1', 'zz'] } },
  { v: { $in: [day, new Date(-1000)] } },
  { v: { $in: [true] } },
  { v: { $in: [] } },
  { g: 'x', v: { $in: ['a', 'b'] } },
  { g: { $in: ['x', 'y'] }, v: { $gte: 1 } },
  { _id: { $in: ['d01-x', 'd05-y', 'nope', 'd01-x'] } },
  { _id: { $in: ['d01-x', 'd05-y'] }, g: 'x' },
  { _id: { $in: ['d01-x', 7] } },
  { v: { $exists: false } },
  { g: 'x', n: { $gt: 5 } },
];

const sorts: Record<string, 1 | -1>[] = [
  { v: 1, _id: 1 },
  { v: -1, _id: -1 },
];

function describeExactness(): void {
  for (const filter of filters) {
    it(`when the filter is ${JSON.stringify(filter)}, then find and count answer as without the index`, async () => {
      await both((name) => coll(name).find(filter).sort({ _id: 1 }).toArray());
      await both((name) => count(name, filter));
      for (const sort of sorts) {
        await both((name) => coll(name).find(filter).sort(sort).toArray());
        await both((name) => coll(name).find(filter).sort(sort).limit(3).toArray());
        await both((name) => coll(name).find(filter).sort(sort).skip(2).limit(5).toArray());
      }
    });
  }

  for (const sort of [...sorts, { g: 1 as const, v: 1 as const, _id: 1 as const }, { g: -1 as const, v: -1 as const, _id: -1 as const }]) {
    it(`when every document is sorted by ${JSON.stringify(sort)}, then the order is the whole-collection path's`, async () => {
      await both((name) => coll(name).find({}).sort(sort).toArray());
      await both((name) => coll(name).find({}, { batchSize: 4 }).sort(sort).toArray());
    });
  }
}

describe('the store answers from typed indexes exactly as without them', () => {
  before(async () => {
    for (const name of [indexed, plain]) {
      await coll(name).drop().catch(() => undefined);
      await coll(name).insertMany(docs());
    }
    await coll(indexed).createIndex({ v: 1, _id: 1 });
    await coll(indexed).createIndex({ g: 1, v: 1, _id: 1 });
  });

  describe('on scalar values of every type', () => {
    describeExactness();

    it('when a filter or sort is on indexed fields, then SQLite searches the index and sorts nothing itself', async () => {
      const cases: [Record<string, unknown>, Record<string, 1 | -1>?][] = [
        [{ v: 'a' }],
        [{ v: { $gte: 1, $lt: 3 } }],
        [{ g: 'x', v: { $gte: 0 } }, { v: 1, _id: 1 }],
        [{ g: 'x' }, { v: -1, _id: -1 }],
        [{}, { v: 1, _id: 1 }],
        [{ v: { $in: ['a', 'b'] } }],
        [{ g: 'x', v: { $in: [1, 2] } }, { v: 1, _id: 1 }],
      ];
      for (const [filter, sort] of cases) {
        const p = await plan(filter, sort);
        assert.match(p, /(SEARCH|SCAN) .* USING (COVERING )?INDEX typed_idx_/, `${JSON.stringify([filter, sort])}: ${p}`);
        assert.doesNotMatch(p, /TEMP B-TREE/, `${JSON.stringify([filter, sort])}: ${p}`);
        if (Object.keys(filter).length > 0) assert.match(p, /SEARCH/, `${JSON.stringify(filter)}: ${p}`);
      }
    });

    it('when an `_id` `$in` lists strings, then the rows are read by the `_id` index', async () => {
      assert.match(await plan({ _id: { $in: ['d01-x', 'd02-x'] }, g: 'x' }), /SEARCH .* USING INDEX .*_id_/);
    });

    it('when an update or delete filters by `$in` on an indexed field, then it changes exactly what the whole-collection path changes', async () => {
      for (const name of [indexed, plain]) {
        await coll(name).updateMany({ v: { $in: ['a', 'b'] } }, { $set: { touched: true } });
        await coll(name).updateMany({ _id: { $in: ['d01-x', 'd02-y'] } }, { $set: { touched_id: true } });
      }
      await both((name) => coll(name).find({ touched: true }).sort({ _id: 1 }).toArray());
      await both((name) => coll(name).find({ touched_id: true }).sort({ _id: 1 }).toArray());
      for (const name of [indexed, plain]) await coll(name).updateMany({}, { $unset: { touched: '', touched_id: '' } });
    });

    it('when a count has no filter, then it is the number of documents, with or without indexes', async () => {
      await both((name) => count(name, {}));
      assert.equal(await count(indexed, {}), await coll(indexed).countDocuments({ n: { $exists: true } }));
    });

    it('when a field has no index, then the plan scans, as upstream', async () => {
      assert.match(await plan({ n: 3 }), /SCAN/);
    });
  });

  describe('when a document holds an array or an object in an indexed field', () => {
    before(async () => {
      for (const name of [indexed, plain]) {
        await coll(name).insertMany([
          { _id: 'arr-x', v: [1, 'z'], g: 'x', n: 100 },
          { _id: 'obj-x', v: { a: 1 }, g: 'x', n: 101 },
          { _id: 'arr-g', v: 'a', g: ['x', 'y'], n: 102 },
        ]);
      }
    });

    describeExactness();

    it('then the plan falls back to reading the collection', async () => {
      assert.match(await plan({ v: 'a' }), /SCAN/);
    });
  });
});
