import assert from 'node:assert/strict';
import { testStore } from '../support/test-store.js';

/**
 * The embedded store's driver keeps each connection's compiled statements, reads and writes
 * (store-server/patches/README.md, "Compiled statements kept per connection"). What could go wrong
 * with a kept statement, tried on the running server: a table dropped and created again under it,
 * an index added after it was compiled, a read cut off mid-way (cursor closed, maxTimeMS), and more
 * statement shapes than a connection keeps. Each must answer exactly what a fresh compile would.
 */
type Doc = { _id: string; k: string; n: number };

const NAME = 'kept_statements';

function coll() {
  return testStore().connection.db!.collection<Doc>(NAME);
}

async function seed(count: number, tag: string): Promise<void> {
  const docs: Doc[] = Array.from({ length: count }, (_, i) => ({ _id: `${tag}-${String(i).padStart(6, '0')}`, k: i % 2 === 0 ? 'even' : 'odd', n: i }));
  for (let i = 0; i < docs.length; i += 1000) await coll().insertMany(docs.slice(i, i + 1000));
}

/** The same few queries, many times over, so every pooled connection of the store has kept them. */
async function queriesAnswer(expected: { even: number; firstId: string }): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const [even, first, byId, counted] = await Promise.all([
      coll().find({ k: 'even' }).toArray(),
      coll().find({}).sort({ _id: 1 }).limit(1).toArray(),
      coll().findOne({ _id: expected.firstId }),
      coll().countDocuments({ k: 'even' }),
    ]);
    assert.equal(even.length, expected.even);
    assert.equal(first[0]?._id, expected.firstId);
    assert.equal(byId?._id, expected.firstId);
    assert.equal(counted, expected.even);
  }
}

describe('kept statements on the running server', function () {
  this.timeout(120_000);

  beforeEach(async () => {
    await coll().drop().catch(() => undefined);
  });
  after(async () => {
    await coll().drop().catch(() => undefined);
  });

  it('when a collection is dropped and created again, then the same queries answer from the new one', async () => {
    await seed(40, 'old');
    await coll().createIndex({ k: 1 });
    await queriesAnswer({ even: 20, firstId: 'old-000000' });

    await coll().drop();
    await seed(10, 'new');
    await queriesAnswer({ even: 5, firstId: 'new-000000' });
    await coll().createIndex({ k: 1, n: 1 });
    await queriesAnswer({ even: 5, firstId: 'new-000000' });
    const updated = await coll().updateMany({ k: 'odd' }, { $set: { k: 'even' } });
    assert.equal(updated.modifiedCount, 5);
    await queriesAnswer({ even: 10, firstId: 'new-000000' });
  });

  it('when a cursor is closed after its first batch, then its statement is free again and sees later writes', async () => {
    await seed(1000, 'c');
    for (let round = 0; round < 10; round++) {
      const cursor = coll().find({ k: 'odd' }, { batchSize: 10 });
      assert.ok(await cursor.next());
      await cursor.close();
    }
    await coll().deleteMany({ n: { $gte: 500 } });
    assert.equal((await coll().find({ k: 'odd' }).toArray()).length, 250);
  });

  it('when a read is cut off by maxTimeMS, then the same read afterwards answers in full', async () => {
    await seed(20_000, 't');
    // A dotted path is filtered in the store's Go code, and a sort on a field without an index is
    // done there too, after every document is read: the first batch needs all 20,000 decoded, far
    // past 1 ms on any machine (without the sort the first 101 matches come back at once, and
    // whether a later batch is cut off depends on how fast the machine is).
    const slow = { 'k.x': { $exists: false }, n: { $gte: 0 } };
    const slowSort = { n: -1 } as const;
    let timedOut = 0;
    for (let round = 0; round < 5; round++) {
      try {
        await coll().find(slow).sort(slowSort).maxTimeMS(1).toArray();
      } catch (err) {
        // Cut off in the first batch (the time limit, or SQLite interrupted at the deadline) or
        // after it (the store closed the cursor).
        assert.match(String((err as Error).message), /time limit|MaxTimeMS|exceeded|interrupt|cursor id \d+ not found/i);
        timedOut++;
      }
    }
    assert.equal(timedOut, 5, 'every read was cut off');
    const insertedAfter = await coll().insertOne({ _id: 'after', k: 'even', n: 20_000 });
    assert.equal(insertedAfter.acknowledged, true, 'no lock is left behind by the cut-off reads');
    const inFull = await coll().find(slow).sort(slowSort).toArray();
    assert.equal(inFull.length, 20_001);
    assert.equal(inFull[0]?._id, 'after');
    assert.equal(inFull[20_000]?._id, 't-000000');
  });

  it('when a connection is given more statement shapes than it keeps, then every answer stays right', async () => {
    await seed(700, 's');
    // Each $in length is its own SQL text: 600 shapes, past the 512 a connection keeps.
    for (let size = 1; size <= 600; size++) {
      const ids = Array.from({ length: size }, (_, i) => `s-${String(i).padStart(6, '0')}`);
      const found = await coll().find({ _id: { $in: ids } }).project({ _id: 1 }).toArray();
      assert.equal(found.length, size, `$in of ${size} ids`);
    }
  });
});
