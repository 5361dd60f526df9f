import assert from 'node:assert/strict';
import { InsufficientFundsError, LedgerService } from '../../src/ledger/ledger-service.js';
import { ledgerEntryModel } from '../../src/ledger/ledger-entry-model.js';
import { testStore } from '../support/test-store.js';

describe('ledger chain', () => {
  const conn = () => testStore().connection;
  let projectId: string;
  let n = 0;

  before(async () => {
    await ledgerEntryModel(conn()).createIndexes();
  });
  beforeEach(() => {
    projectId = `prj_ledger_${Date.now()}_${n++}`;
  });

  async function chain() {
    return ledgerEntryModel(conn()).find({ project_id: projectId }).sort({ seq: 1 }).lean();
  }

  it('when a deposit and a charge are appended, then each entry snapshots the balance around it', async () => {
    const ledger = new LedgerService(conn());
    await ledger.append({ project_id: projectId, order_id: 'ord_dep', kind: 'deposit', amount: 1000, currency: 'USD' });
    const { entry } = await ledger.append({ project_id: projectId, order_id: 'ord_1', kind: 'charge', amount: -300, currency: 'USD' });
    assert.deepEqual([entry.seq, entry.balance_before, entry.balance_after], [2, 1000, 700]);
    assert.equal(await ledger.balance(projectId), 700);
  });

  it('when the same order is charged twice, then the second append returns the first entry and writes nothing', async () => {
    const ledger = new LedgerService(conn());
    await ledger.append({ project_id: projectId, order_id: 'ord_dep', kind: 'deposit', amount: 500, currency: 'USD' });
    const first = await ledger.append({ project_id: projectId, order_id: 'ord_x', kind: 'charge', amount: -100, currency: 'USD' });
    const again = await ledger.append({ project_id: projectId, order_id: 'ord_x', kind: 'charge', amount: -100, currency: 'USD' });
    assert.equal(first.alreadyApplied, false);
    assert.equal(again.alreadyApplied, true);
    assert.equal(again.entry.seq, first.entry.seq);
    assert.equal((await chain()).length, 2);
  });

  it('when a charge exceeds the balance, then it is refused and nothing is written', async () => {
    const ledger = new LedgerService(conn());
    await ledger.append({ project_id: projectId, order_id: 'ord_dep', kind: 'deposit', amount: 50, currency: 'USD' });
    await assert.rejects(
      ledger.append({ project_id: projectId, order_id: 'ord_big', kind: 'charge', amount: -51, currency: 'USD' }),
      InsufficientFundsError,
    );
    assert.equal((await chain()).length, 1);
  });

  it('when 200 charges race from two independent writers against a balance for 50, then exactly 50 land and the chain is intact', async function () {
    this.timeout(120_000);
    // Two services = two in-process queues: only the unique index keeps them apart.
    const writers = [new LedgerService(conn()), new LedgerService(conn())];
    await writers[0]!.append({ project_id: projectId, order_id: 'ord_dep', kind: 'deposit', amount: 50 * 70, currency: 'USD' });
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) =>
        writers[i % 2]!.append({ project_id: projectId, order_id: `ord_${i}`, kind: 'charge', amount: -70, currency: 'USD' }),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    assert.equal(ok.length, 50);
    for (const r of refused) if (r.status === 'rejected') assert.ok(r.reason instanceof InsufficientFundsError, String(r.reason));

    const entries = await chain();
    assert.equal(entries.length, 51);
    entries.forEach((e, i) => {
      assert.equal(e.seq, i + 1, 'no gaps');
      if (i > 0) assert.equal(e.balance_before, entries[i - 1]!.balance_after, `link at seq ${e.seq}`);
      assert.equal(e.balance_after, e.balance_before + e.amount);
      assert.ok(e.balance_after >= 0);
    });
    assert.equal(entries.at(-1)!.balance_after, 0);
  });

  it('when a process starts cold after another appended past the stored hint, then it appends after the true last entry', async () => {
    const first = new LedgerService(conn());
    await first.append({ project_id: projectId, order_id: 'ord_dep', kind: 'deposit', amount: 10_000, currency: 'USD' });
    for (let i = 0; i < 20; i++) await first.append({ project_id: projectId, order_id: `ord_${i}`, kind: 'charge', amount: -10, currency: 'USD' });
    const hint = await conn().collection('ledger_heads').findOne({ _id: projectId as never });
    assert.equal(hint?.seq, 16, 'the hint is written every 16 entries, so it lags the chain (21 entries)');

    const cold = new LedgerService(conn()); // a new process: nothing remembered
    assert.equal(await cold.balance(projectId), 10_000 - 200);
    const { entry } = await cold.append({ project_id: projectId, order_id: 'ord_cold', kind: 'charge', amount: -5, currency: 'USD' });
    assert.deepEqual([entry.seq, entry.balance_before, entry.balance_after], [22, 9_800, 9_795]);
    const entries = await chain();
    assert.equal(entries.length, 22);
    assert.ok(entries.every((e) => e._id === `${projectId}:${e.seq}`), 'every entry is stored under project:seq');
  });

  it('when another writer appended behind this one\'s back, then the next append moves past it instead of forking the chain', async () => {
    const a = new LedgerService(conn());
    const b = new LedgerService(conn());
    await a.append({ project_id: projectId, order_id: 'ord_dep', kind: 'deposit', amount: 100, currency: 'USD' });
    await a.append({ project_id: projectId, order_id: 'ord_a1', kind: 'charge', amount: -10, currency: 'USD' }); // a remembers seq 2
    await b.append({ project_id: projectId, order_id: 'ord_b1', kind: 'charge', amount: -20, currency: 'USD' }); // seq 3, unknown to a
    const { entry } = await a.append({ project_id: projectId, order_id: 'ord_a2', kind: 'charge', amount: -30, currency: 'USD' });
    assert.deepEqual([entry.seq, entry.balance_before, entry.balance_after], [4, 70, 40]);
    // And a deposit a does not know of is seen before a charge is refused for want of funds.
    await b.append({ project_id: projectId, order_id: 'ord_dep2', kind: 'deposit', amount: 1000, currency: 'USD' });
    const big = await a.append({ project_id: projectId, order_id: 'ord_a3', kind: 'charge', amount: -500, currency: 'USD' });
    assert.deepEqual([big.entry.seq, big.entry.balance_after], [6, 540]);
    const entries = await chain();
    entries.forEach((e, i) => {
      assert.equal(e.seq, i + 1);
      if (i > 0) assert.equal(e.balance_before, entries[i - 1]!.balance_after);
    });
  });

  it('when the chain holds entries stored before entries were keyed by seq, then appends still continue it', async () => {
    // Entries with ObjectId _ids, as an older gateway stored them.
    await ledgerEntryModel(conn()).collection.insertMany([
      { project_id: projectId, seq: 1, kind: 'deposit', amount: 500, balance_before: 0, balance_after: 500, currency: 'USD', order_id: 'ord_old_dep', created_at: new Date() },
      { project_id: projectId, seq: 2, kind: 'charge', amount: -100, balance_before: 500, balance_after: 400, currency: 'USD', order_id: 'ord_old_1', created_at: new Date() },
    ] as never[]);
    const ledger = new LedgerService(conn());
    const { entry } = await ledger.append({ project_id: projectId, order_id: 'ord_new', kind: 'charge', amount: -50, currency: 'USD' });
    assert.deepEqual([entry.seq, entry.balance_before, entry.balance_after], [3, 400, 350]);
    const again = await ledger.append({ project_id: projectId, order_id: 'ord_old_1', kind: 'charge', amount: -100, currency: 'USD' });
    assert.equal(again.alreadyApplied, true, 'an old entry still counts as applied');
    assert.equal((await chain()).length, 3);
  });
});
