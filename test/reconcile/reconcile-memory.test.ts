import assert from 'node:assert/strict';
import type { Connection } from 'mongoose';
import { ledgerEntryId, ledgerEntryModel, type LedgerEntry } from '../../src/ledger/ledger-entry-model.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import { projectModel } from '../../src/projects/project-model.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { dropIsolatedDb, isolatedDb } from '../support/isolated-db.js';
import { registerHistoryModels } from '../support/ledger-history.js';

const FAILED_ORDERS = 10_000; // each charged then refunded: 20,000 entries, plus the deposit

/** Inserts a long, correct history directly (the workflow would take far too long to make it). */
async function insertHistory(connection: Connection, projectId: string, count: number): Promise<number> {
  const past = new Date(Date.now() - 86_400_000);
  await projectModel(connection).collection.insertOne({
    _id: projectId, name: 'Big', status: 'active', currency: 'USD', signing_keys: [], encryption_keys: [], created_at: past, updated_at: past,
  } as never);
  const deposit = 1_000_000_000;
  let orders: Order[] = [
    {
      _id: `ord_${projectId}_dep`, project_id: projectId, order_type: 'balance_deposit', idempotency_key: 'dep', request_hash: 'h',
      status: 'completed', is_issued: false, data: { amount: deposit, reason: 'float', currency: 'USD' }, rejected: false, attempts: 0,
      balance_before: 0, balance_after: deposit, created_at: past, updated_at: past,
    },
  ];
  let entries: LedgerEntry[] = [
    { _id: ledgerEntryId(projectId, 1), project_id: projectId, seq: 1, kind: 'deposit', amount: deposit, balance_before: 0, balance_after: deposit, currency: 'USD', order_id: orders[0]!._id, created_at: past },
  ];
  const balance = deposit;
  let seq = 1;
  const flush = async () => {
    await orderModel(connection).collection.insertMany(orders as never[], { ordered: false });
    await ledgerEntryModel(connection).collection.insertMany(entries as never[], { ordered: false });
    orders = [];
    entries = [];
  };
  for (let i = 0; i < count; i++) {
    const total = 1000 + (i % 97);
    const id = `ord_${projectId}_${i}`;
    const chargeSeq = ++seq;
    const refundSeq = ++seq;
    const charge = { _id: ledgerEntryId(projectId, chargeSeq), project_id: projectId, seq: chargeSeq, kind: 'charge' as const, amount: -total, balance_before: balance, balance_after: balance - total, currency: 'USD', order_id: id, created_at: past };
    const refund = { ...charge, _id: ledgerEntryId(projectId, refundSeq), seq: refundSeq, kind: 'refund' as const, amount: total, balance_before: balance - total, balance_after: balance };
    orders.push({
      _id: id, project_id: projectId, order_type: 'card_issue', idempotency_key: `k${i}`, request_hash: 'h', status: 'failed',
      issue_status: 'card_create_error', is_issued: false, last_error_slug: 'provider_declined',
      data: { currency: 'USD', issue_fee: 100, initial_balance: total - 100, total_charge: total }, rejected: false, attempts: 1,
      balance_before: balance, balance_after: balance - total, created_at: past, updated_at: past, failed_at: past,
    });
    entries.push(charge, refund);
    if (orders.length >= 2000) await flush();
  }
  await flush();
  return seq;
}

describe('reconciliation over a long history', function () {
  this.timeout(600_000);
  let connection: Connection;

  before(async () => {
    connection = await isolatedDb('reconcile_big');
    await registerHistoryModels(connection);
  });
  after(async () => {
    await dropIsolatedDb(connection);
  });

  it(`when the ledger holds ${2 * FAILED_ORDERS + 1} entries, then it is reconciled clean by streaming and the heap stays flat (figures printed)`, async () => {
    const inserted = await insertHistory(connection, 'prj_big', FAILED_ORDERS);
    assert.equal(inserted, 2 * FAILED_ORDERS + 1);

    const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
    const samples: { phase: string; done: number; heap: number }[] = [];
    const start = process.memoryUsage().heapUsed;
    const started = Date.now();
    const report = await new Reconciler(connection).run({
      stuckAfterS: 900,
      settleS: 0,
      batchSize: 500,
      onProgress: (p) => samples.push({ phase: p.phase, done: p.done, heap: process.memoryUsage().heapUsed }),
    });
    const seconds = (Date.now() - started) / 1000;

    assert.deepEqual(report.faults, []);
    assert.equal(report.ok, true);
    assert.equal(report.totals.entries, 2 * FAILED_ORDERS + 1);
    assert.equal(report.totals.orders, FAILED_ORDERS + 1);

    const ledgerSamples = samples.filter((s) => s.phase === 'ledger');
    assert.ok(ledgerSamples.length >= 40, 'progress was reported as the ledger streamed');
    assert.deepEqual(samples.filter((s) => s.phase === 'chain'), [], 'a whole chain is read once, not walked again in seq order');
    const peak = Math.max(...samples.map((s) => s.heap));
    const lines = [0.25, 0.5, 0.75, 1].map((q) => {
      const s = ledgerSamples[Math.min(ledgerSamples.length - 1, Math.floor(q * ledgerSamples.length))]!;
      return `${s.done} entries: heap ${mb(s.heap)} MB`;
    });
    process.stdout.write(
      `      reconcile memory: heap before ${mb(start)} MB; ${lines.join('; ')}; peak ${mb(peak)} MB (+${mb(peak - start)} MB) over ${report.totals.entries} entries and ${report.totals.orders} orders, in ${seconds.toFixed(1)} s\n`,
    );
  });
});
