import assert from 'node:assert/strict';
import type { Connection } from 'mongoose';
import { ledgerEntryModel } from '../../src/ledger/ledger-entry-model.js';
import { orderModel } from '../../src/orders/order-model.js';
import { Reconciler, type ReconcileReport } from '../../src/reconcile/reconciler.js';
import { reportTable } from '../../src/reconcile/report-table.js';
import type { FaultKind } from '../../src/reconcile/faults.js';
import { FakeProvider } from '../support/fake-provider.js';
import { dropIsolatedDb, isolatedDb } from '../support/isolated-db.js';
import { buildCleanHistory, ledgerOf, registerHistoryModels, type History } from '../support/ledger-history.js';

describe('reconciliation against faults planted in the store', function () {
  this.timeout(60_000);
  let connection: Connection;
  let provider: FakeProvider;
  let history: History;
  let other: History;

  beforeEach(async () => {
    connection = await isolatedDb('reconcile');
    await registerHistoryModels(connection);
    provider = new FakeProvider();
    history = await buildCleanHistory(connection, 'prj_recon_a', provider);
    other = await buildCleanHistory(connection, 'prj_recon_b', provider);
  });
  afterEach(async () => {
    await dropIsolatedDb(connection);
  });

  const reconcile = (options: { settleS?: number } = {}) =>
    new Reconciler(connection).run({ stuckAfterS: 900, settleS: options.settleS ?? 0, provider });
  const entries = () => ledgerEntryModel(connection).collection;

  function kinds(report: ReconcileReport): FaultKind[] {
    return [...new Set(report.faults.map((f) => f.kind))].sort();
  }
  function assertOnlyProjectA(report: ReconcileReport): void {
    assert.equal(report.ok, false);
    assert.ok(report.faults.every((f) => f.project_id === history.projectId), 'the clean project stays clean');
    assert.equal(report.projects.find((p) => p.project_id === other.projectId)!.faults, 0);
  }

  it('when the history is clean, then the report is ok with every row counted', async () => {
    const report = await reconcile();
    assert.deepEqual(report.faults, [], reportTable(report));
    assert.equal(report.ok, true);
    assert.deepEqual(report.totals, { projects: 2, entries: 14, orders: 14, cards: 4, faults: 0 });
    const a = report.projects.find((p) => p.project_id === history.projectId)!;
    assert.equal(a.balance, 100_000 - 1500 - 1200 + 1200 - 900 - 1300 + 1000);
    assert.match(reportTable(report), /OK: the ledger, the orders and the cards agree/);
  });

  it('when a ledger entry is removed, then the gap, the broken link and the missing charge are reported', async () => {
    const removed = (await ledgerOf(connection, history.projectId)).find((e) => e.order_id === history.completed._id)!;
    await entries().deleteOne({ project_id: history.projectId, seq: removed.seq });
    const report = await reconcile();
    assertOnlyProjectA(report);
    assert.deepEqual(kinds(report), ['chain_break', 'chain_gap', 'missing_charge']);
    assert.ok(report.faults.some((f) => f.kind === 'chain_gap' && f.detail === `expected seq ${removed.seq}, found ${removed.seq + 1}`));
    assert.ok(report.faults.some((f) => f.kind === 'missing_charge' && f.order_id === history.completed._id));
  });

  it('when an amount is changed, then the arithmetic and the charge against its order are reported', async () => {
    await entries().updateOne({ project_id: history.projectId, order_id: history.completed._id, kind: 'charge' }, { $set: { amount: -1400 } });
    const report = await reconcile();
    assertOnlyProjectA(report);
    assert.deepEqual(kinds(report), ['arithmetic', 'charge_mismatch']);
    assert.ok(report.faults.every((f) => f.order_id === history.completed._id));
  });

  it('when a refund is duplicated under another seq (the unique index dropped to plant it), then the second refund is reported', async () => {
    await entries().dropIndex('project_id_1_order_id_1_kind_1');
    const chain = await ledgerOf(connection, history.projectId);
    const last = chain.at(-1)!;
    const refund = chain.find((e) => e.order_id === history.createFailed._id && e.kind === 'refund')!;
    await entries().insertOne({
      ...refund, _id: undefined, seq: last.seq + 1, balance_before: last.balance_after, balance_after: last.balance_after + refund.amount,
    });
    const report = await reconcile();
    assertOnlyProjectA(report);
    assert.deepEqual(kinds(report), ['duplicate_entry']);
    assert.equal(report.faults[0]!.order_id, history.createFailed._id);
    assert.match(report.faults[0]!.detail, new RegExp(`refunded 2 times \\(seq ${refund.seq}, ${last.seq + 1}\\)`));
  });

  it('when a refund entry is copied verbatim under a new seq, then the chain break shows it as well as the duplicate', async () => {
    await entries().dropIndex('project_id_1_order_id_1_kind_1');
    const chain = await ledgerOf(connection, history.projectId);
    const refund = chain.find((e) => e.order_id === history.topupFailed._id && e.kind === 'refund')!;
    await entries().insertOne({ ...refund, _id: undefined, seq: chain.at(-1)!.seq + 1 });
    const report = await reconcile();
    assertOnlyProjectA(report);
    assert.deepEqual(kinds(report), ['chain_break', 'duplicate_entry']);
  });

  it('when two entries swap their seqs, then only the chain shows it, and it is walked in seq order to name each break', async () => {
    // Every entry still matches its order, so only the chain's fingerprint can see this.
    const chain = await ledgerOf(connection, history.projectId);
    const [a, b] = [chain[1]!, chain[2]!];
    await entries().updateOne({ project_id: history.projectId, seq: a.seq }, { $set: { seq: -1 } });
    await entries().updateOne({ project_id: history.projectId, seq: b.seq }, { $set: { seq: a.seq } });
    await entries().updateOne({ project_id: history.projectId, seq: -1 }, { $set: { seq: b.seq } });
    const phases: string[] = [];
    const report = await new Reconciler(connection).run({ stuckAfterS: 900, settleS: 0, provider, onProgress: (p) => phases.push(`${p.project_id}:${p.phase}`) });
    assertOnlyProjectA(report);
    assert.deepEqual(kinds(report), ['chain_break']);
    assert.deepEqual(report.faults.map((f) => [f.seq, f.order_id]), [[a.seq, b.order_id], [b.seq, a.order_id], [b.seq + 1, chain[3]!.order_id]]);
    assert.ok(phases.includes(`${history.projectId}:chain`) && !phases.includes(`${other.projectId}:chain`), 'only the broken chain is read again');
    assert.equal(report.projects.find((p) => p.project_id === history.projectId)!.balance, chain.at(-1)!.balance_after);
  });

  it('when a refund is missing, then the failed order owed it is reported with the amount', async () => {
    await entries().deleteOne({ project_id: history.projectId, order_id: history.topupFailed._id, kind: 'refund' });
    const report = await reconcile();
    assertOnlyProjectA(report);
    assert.deepEqual(kinds(report), ['missing_refund']);
    assert.equal(report.faults[0]!.order_id, history.topupFailed._id);
    assert.equal(report.faults[0]!.detail, 'owed 1000, refunded nothing');
  });

  it('when an order has made no progress past the limit, then it is reported stuck', async () => {
    await orderModel(connection).collection.updateOne({ _id: history.activating._id } as never, { $set: { updated_at: new Date(Date.now() - 901_000) } });
    const report = await reconcile();
    assertOnlyProjectA(report);
    assert.deepEqual(kinds(report), ['stuck_order']);
    assert.match(report.faults[0]!.detail, /^activating\/card_create_pending for 15 min$/);
  });

  it('when a refund has the wrong amount or goes to an order owed nothing, then each is reported', async () => {
    await entries().updateOne({ project_id: history.projectId, order_id: history.topupFailed._id, kind: 'refund' }, { $set: { amount: 1300, balance_after: 0 } });
    const report = await reconcile();
    assert.ok(report.faults.some((f) => f.kind === 'wrong_refund' && f.detail === 'refunded 1300, owed 1000'));

    const last = (await ledgerOf(connection, other.projectId)).at(-1)!;
    await entries().insertOne({
      project_id: other.projectId, seq: last.seq + 1, kind: 'refund', amount: 50, balance_before: last.balance_after,
      balance_after: last.balance_after + 50, currency: 'USD', order_id: other.completed._id, created_at: new Date(),
    });
    const again = await reconcile();
    assert.ok(again.faults.some((f) => f.kind === 'unowed_refund' && f.order_id === other.completed._id));
  });

  it('when an entry has no order, or the provider disagrees about a card, then each is reported', async () => {
    const last = (await ledgerOf(connection, history.projectId)).at(-1)!;
    await entries().insertOne({
      project_id: history.projectId, seq: last.seq + 1, kind: 'deposit', amount: 5, balance_before: last.balance_after,
      balance_after: last.balance_after + 5, currency: 'USD', order_id: 'ord_ghost', created_at: new Date(),
    });
    provider.cards.set(history.card.provider_card_id, { ...provider.cards.get(history.card.provider_card_id)!, status: 'terminated' });
    provider.cards.delete(other.card.provider_card_id);
    const report = await reconcile();
    assert.deepEqual(kinds(report), ['card_mismatch', 'card_unknown_to_provider', 'orphan_entry']);
    assert.ok(report.faults.some((f) => f.kind === 'card_mismatch' && f.detail === 'status active, provider terminated'));
  });

  it('when an order with nothing to charge gets a charge anyway, then it is reported as unexpected', async () => {
    const free = await orderModel(connection).findOne({ project_id: history.projectId, 'data.total_charge': 0 }).lean();
    const last = (await ledgerOf(connection, history.projectId)).at(-1)!;
    await entries().insertOne({
      project_id: history.projectId, seq: last.seq + 1, kind: 'charge', amount: -10, balance_before: last.balance_after,
      balance_after: last.balance_after - 10, currency: 'USD', order_id: free!._id, created_at: new Date(),
    });
    const report = await reconcile();
    assert.deepEqual(kinds(report), ['unexpected_entry']);
    assert.equal(report.faults[0]!.order_id, free!._id);
  });

  it('when an order is still in flight, then its half-written state is not a fault until the settle window passes', async () => {
    await orderModel(connection).collection.updateOne(
      { _id: history.activating._id } as never,
      { $unset: { balance_before: '', balance_after: '' }, $set: { updated_at: new Date() } },
    );
    assert.equal((await reconcile({ settleS: 30 })).ok, true);
    const strict = await reconcile({ settleS: 0 });
    assert.deepEqual(kinds(strict), ['charge_mismatch']);
  });
});
