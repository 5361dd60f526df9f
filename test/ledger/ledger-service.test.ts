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
});
