import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { cardholderModel, type VerificationStatus } from '../../src/cardholders/cardholder-model.js';
import { cardModel } from '../../src/cards/card-model.js';
import { newId } from '../../src/ids/ids.js';
import { ledgerEntryModel, type LedgerEntry } from '../../src/ledger/ledger-entry-model.js';
import { LedgerService } from '../../src/ledger/ledger-service.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import { productModel, type Product } from '../../src/products/product-model.js';
import { projectModel, type Project } from '../../src/projects/project-model.js';
import type { SimulatorProcess } from '../../src/provider/simulator-process.js';
import { simulatorState, suiteSimulator } from './provider-sim.js';

/** Projects, products, cardholders and deposits on the real store, each test with its own. */

export const uniq = (prefix: string) => `${prefix}_${randomBytes(6).toString('hex')}`;

export async function makeProject(connection: Connection, overrides: Partial<Project> = {}): Promise<Project> {
  const doc = await projectModel(connection).create({ _id: newId('prj'), name: uniq('project'), currency: 'USD', ...overrides });
  return doc.toObject();
}

export async function makeProduct(connection: Connection, overrides: Partial<Product> = {}): Promise<Product> {
  const doc = await productModel(connection).create({
    _id: uniq('prod'),
    product_code: uniq('VIRTUAL_USD').toUpperCase(),
    product_id: Math.floor(Math.random() * 1e12),
    name: 'Virtual USD',
    active: true,
    currency: 'USD',
    issue_fee: 500,
    initial_balance_min: 0,
    initial_balance_max: 100_000,
    limits: { per_transaction: 50_000 },
    ...overrides,
  });
  return doc.toObject();
}

export async function makeCardholder(connection: Connection, projectId: string, status: VerificationStatus = 'verified', externalUserId = uniq('user')) {
  await cardholderModel(connection).create({ _id: newId('ch'), project_id: projectId, external_user_id: externalUserId, verification_status: status });
  return externalUserId;
}

/** Funds a project the way the back office does: a balance_deposit order and its ledger entry. */
export async function deposit(connection: Connection, projectId: string, amount: number, currency = 'USD'): Promise<void> {
  const orderId = newId('ord');
  const now = new Date();
  await orderModel(connection).create({
    _id: orderId,
    project_id: projectId,
    order_type: 'balance_deposit',
    idempotency_key: uniq('deposit'),
    request_hash: 'test-deposit',
    status: 'completed',
    is_issued: false,
    data: { amount, currency, reason: 'test funding' },
    rejected: false,
    attempts: 0,
    completed_at: now,
  });
  const { entry } = await new LedgerService(connection).append({ project_id: projectId, order_id: orderId, kind: 'deposit', amount, currency });
  await orderModel(connection).updateOne({ _id: orderId }, { $set: { balance_before: entry.balance_before, balance_after: entry.balance_after } });
}

export async function chainOf(connection: Connection, projectId: string): Promise<LedgerEntry[]> {
  return ledgerEntryModel(connection).find({ project_id: projectId }).sort({ seq: 1 }).lean<LedgerEntry[]>();
}

/** The chain's own invariants: seq without gaps, each entry linked to the previous, never negative. */
export function assertChainIntact(entries: LedgerEntry[]): void {
  entries.forEach((e, i) => {
    if (e.seq !== i + 1) throw new Error(`gap in the chain at seq ${e.seq} (expected ${i + 1})`);
    if (i > 0 && e.balance_before !== entries[i - 1]!.balance_after) throw new Error(`broken link at seq ${e.seq}`);
    if (e.balance_after !== e.balance_before + e.amount) throw new Error(`bad arithmetic at seq ${e.seq}`);
    if (e.balance_after < 0) throw new Error(`negative balance at seq ${e.seq}`);
  });
}

export async function ordersOf(connection: Connection, projectId: string): Promise<Order[]> {
  return orderModel(connection).find({ project_id: projectId, order_type: 'card_issue' }).lean<Order[]>();
}

/**
 * What must hold for every order of a project, whatever crashed: at most one charge, at most one
 * refund and it is exactly refundOwed, at most one card here and one at the provider simulator.
 */
export async function exactlyOnceReport(connection: Connection, projectId: string, sim: SimulatorProcess = suiteSimulator()) {
  const entries = await chainOf(connection, projectId);
  const orders = await ordersOf(connection, projectId);
  const cards = await cardModel(connection).find({ project_id: projectId }).lean();
  const orderIds = new Set(orders.map((o) => o._id));
  const providerCards = (await simulatorState(sim)).cards.filter((c) => orderIds.has(c.externalId));
  const count = <T>(items: T[], key: (t: T) => string) => {
    const m = new Map<string, number>();
    for (const item of items) m.set(key(item), (m.get(key(item)) ?? 0) + 1);
    return m;
  };
  return {
    entries,
    orders,
    byOrderKind: count(entries, (e) => `${e.order_id}:${e.kind}`),
    cardsPerOrder: count(cards, (c) => c.order_id),
    providerCardsPerOrder: count(providerCards, (c) => c.externalId),
  };
}

/**
 * Asserts the exactly-once invariants over every card-issue order of a project: each is terminal;
 * each accepted order has one charge of its total and at most one refund, equal to refundOwed;
 * a completed order has one card and at most one provider card;
 * the chain is intact and its last balance is deposits - charges + refunds.
 */
export async function assertExactlyOnce(connection: Connection, projectId: string, sim?: SimulatorProcess): Promise<{ completed: number; failed: number }> {
  const { refundOwed } = await import('../../src/orders/refund-policy.js');
  const report = await exactlyOnceReport(connection, projectId, sim);
  assertChainIntact(report.entries);
  const problems: string[] = [];
  for (const o of report.orders) {
    if (o.status !== 'completed' && o.status !== 'failed') problems.push(`${o._id} not terminal: ${o.status}/${o.issue_status}`);
    const charges = report.byOrderKind.get(`${o._id}:charge`) ?? 0;
    const refunds = report.entries.filter((e) => e.order_id === o._id && e.kind === 'refund');
    if (o.rejected) {
      if (charges !== 0 || refunds.length !== 0) problems.push(`${o._id} rejected but has ledger entries`);
      continue;
    }
    if ((o.data.total_charge ?? 0) > 0 && charges !== 1) problems.push(`${o._id} charged ${charges} times`);
    const owed = refundOwed(o);
    if (owed === 0 && refunds.length > 0) problems.push(`${o._id} refunded although nothing is owed`);
    if (owed > 0 && (refunds.length !== 1 || refunds[0]!.amount !== owed)) problems.push(`${o._id} refunds ${JSON.stringify(refunds.map((r) => r.amount))}, owed ${owed}`);
    const cards = report.cardsPerOrder.get(o._id) ?? 0;
    if (cards > 1) problems.push(`${o._id} has ${cards} cards`);
    if (o.status === 'completed' && (cards !== 1 || !o.is_issued || !o.card_id)) problems.push(`${o._id} completed without its card`);
    if ((report.providerCardsPerOrder.get(o._id) ?? 0) > 1) problems.push(`${o._id} made ${report.providerCardsPerOrder.get(o._id)} provider cards`);
  }
  const sum = report.entries.reduce((s, e) => s + e.amount, 0);
  if (report.entries.length > 0 && report.entries.at(-1)!.balance_after !== sum) problems.push('final balance is not the sum of the chain');
  if (problems.length > 0) throw new Error(`exactly-once violations:\n${problems.join('\n')}`);
  return {
    completed: report.orders.filter((o) => o.status === 'completed').length,
    failed: report.orders.filter((o) => o.status === 'failed').length,
  };
}

/** MONGODB_URI for a child gateway on the test database. */
export function childMongoUri(uri: string, dbName: string): string {
  const [base, query] = uri.split('?');
  const withSlash = base!.endsWith('/') ? base! : `${base}/`;
  return `${withSlash}${dbName}${query ? `?${query}` : ''}`;
}
