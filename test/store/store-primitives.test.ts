import assert from 'node:assert/strict';
import { Schema, type Model } from 'mongoose';
import { DuplicateKeyError, insertUnique } from '../../src/store/duplicate-key.js';
import { testStore } from '../support/test-store.js';

/**
 * The store primitives the contract's ledger design stands on (contract section 6), checked on
 * the running server: if the engine stops giving these, money invariants break.
 */
interface Entry {
  chain: string;
  seq: number;
  amount: number;
}

const entrySchema = new Schema<Entry>({
  chain: { type: String, required: true },
  seq: { type: Number, required: true },
  amount: { type: Number, required: true },
});
entrySchema.index({ chain: 1, seq: 1 }, { unique: true });

let model: Model<Entry> | undefined;
function entries(): Model<Entry> {
  model ??= testStore().connection.model<Entry>('PrimitiveEntry', entrySchema, 'primitive_entries');
  return model;
}

describe('store primitives on the running server', () => {
  before(async () => {
    await entries().createIndexes();
  });
  beforeEach(async () => {
    await entries().deleteMany({});
  });

  it('when a duplicate is inserted under a unique index, then it is refused with a DuplicateKeyError', async () => {
    await insertUnique('primitive_entries', () => entries().create({ chain: 'a', seq: 1, amount: 10 }));
    await assert.rejects(
      insertUnique('primitive_entries', () => entries().create({ chain: 'a', seq: 1, amount: 99 })),
      (err: unknown) => err instanceof DuplicateKeyError && err.collection === 'primitive_entries',
    );
    const stored = await entries().find({ chain: 'a' }).lean();
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!.amount, 10, 'the first write stands, the loser changed nothing');
  });

  it('when an error is not a duplicate, then insertUnique rethrows it unchanged', async () => {
    const original = new Error('boom');
    await assert.rejects(
      insertUnique('primitive_entries', () => Promise.reject(original)),
      (err: unknown) => err === original,
    );
  });

  it('when 50 inserts race for one unique key, then exactly one document is stored', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        insertUnique('primitive_entries', () => entries().create({ chain: 'race', seq: 7, amount: i })),
      ),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 49);
    for (const r of lost) if (r.status === 'rejected') assert.ok(r.reason instanceof DuplicateKeyError);
    assert.equal(await entries().countDocuments({ chain: 'race' }), 1);
  });

  it('when entries are sorted by seq descending with limit 1, then the latest entry is returned', async () => {
    // Inserted out of order on purpose: the answer must come from the sort, not insertion order.
    for (const seq of [3, 1, 5, 2, 4]) await entries().create({ chain: 'sorted', seq, amount: seq * 100 });
    await entries().create({ chain: 'other', seq: 9, amount: 1 });
    const latest = await entries().find({ chain: 'sorted' }).sort({ seq: -1 }).limit(1).lean();
    assert.equal(latest.length, 1);
    assert.equal(latest[0]!.seq, 5);
    assert.equal(latest[0]!.amount, 500);
  });

  it('when the test suite talks to the store, then it is a real server over the wire', async () => {
    const info = (await testStore().connection.db!.admin().command({ buildInfo: 1 })) as { version?: string };
    assert.match(String(info.version), /^\d+\.\d+/);
  });

  describe('filters anchored on _id (the patched embedded store)', () => {
    const docs = () => testStore().connection.db!.collection<{ _id: string; owner: string; state: string }>('id_anchored');
    before(async () => {
      await docs().deleteMany({});
      await docs().insertMany(Array.from({ length: 300 }, (_, i) => ({ _id: `doc_${i}`, owner: i % 2 ? 'odd' : 'even', state: 'new' })));
    });

    it('when _id comes with other conditions, then all of them still decide the match', async () => {
      assert.equal((await docs().findOne({ _id: 'doc_7', owner: 'odd' }))?._id, 'doc_7');
      assert.equal(await docs().findOne({ _id: 'doc_7', owner: 'even' }), null, 'the other condition is not dropped');
      assert.equal(await docs().findOne({ owner: 'odd', _id: 'doc_8' }), null);
      assert.equal(await docs().findOne({ _id: 'doc_999', owner: 'odd' }), null);

      const refused = await docs().updateOne({ _id: 'doc_9', state: 'done' }, { $set: { state: 'moved' } });
      assert.equal(refused.matchedCount, 0, 'a conditional update whose condition fails changes nothing');
      const applied = await docs().updateOne({ _id: 'doc_9', state: 'new' }, { $set: { state: 'done' } });
      assert.equal(applied.modifiedCount, 1);
      assert.equal((await docs().findOne({ _id: 'doc_9' }))?.state, 'done');
      assert.equal(await docs().countDocuments({ state: 'done' }), 1, 'no other document moved');

      assert.equal((await docs().deleteOne({ _id: 'doc_11', owner: 'even' })).deletedCount, 0);
      assert.equal((await docs().deleteOne({ _id: 'doc_11', owner: 'odd' })).deletedCount, 1);
      assert.equal(await docs().countDocuments({}), 299);
    });

    it('when a lookup names _id, then the embedded store reads it through the _id index, not a scan', async function () {
      if (process.env.MONGODB_URI) this.skip(); // the plan format below is FerretDB's (SQLite's EXPLAIN QUERY PLAN)
      for (const filter of [{ _id: 'doc_3' }, { _id: 'doc_3', owner: 'odd' }, { owner: 'odd', _id: 'doc_3' }]) {
        const explained = (await docs().find(filter).explain()) as { queryPlanner?: { Plan?: string[] } };
        const plan = (explained.queryPlanner?.Plan ?? []).join(' ');
        assert.match(plan, /SEARCH .* USING INDEX .*__id_/, `${JSON.stringify(filter)}: ${plan}`);
      }
      // And a filter without _id is still a scan: the test can tell the two apart.
      const scan = (await docs().find({ owner: 'odd' }).explain()) as { queryPlanner?: { Plan?: string[] } };
      assert.match((scan.queryPlanner?.Plan ?? []).join(' '), /SCAN/);
    });
  });
});
