import type { Connection } from 'mongoose';
import { cardModel, type Card } from '../../src/cards/card-model.js';
import { ledgerEntryModel, type LedgerEntry } from '../../src/ledger/ledger-entry-model.js';
import { LedgerService } from '../../src/ledger/ledger-service.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import { projectModel, type Project } from '../../src/projects/project-model.js';
import type { FakeProvider } from './fake-provider.js';

/**
 * A small, correct history written straight into the store, as the workflow would have left it,
 * so reconciliation tests can plant one fault at a time into something that is otherwise clean.
 * Ledger order: deposit, A charge, B charge, B refund, N charge, C charge, C refund (last); a free
 * order (nothing to charge) and a rejected one have no entries.
 */
export interface History {
  projectId: string;
  deposit: Order;
  /** completed, with a card */
  completed: Order;
  /** failed at card creation: refunded in full */
  createFailed: Order;
  /** failed at the initial top-up: refunded the initial balance */
  topupFailed: Order;
  /** refused at creation: never charged */
  rejected: Order;
  /** still at the provider, recently touched */
  activating: Order;
  card: Card;
}

export async function registerHistoryModels(connection: Connection): Promise<void> {
  for (const model of [projectModel(connection), orderModel(connection), ledgerEntryModel(connection), cardModel(connection)]) {
    await model.createIndexes();
  }
}

export async function buildCleanHistory(connection: Connection, projectId: string, provider: FakeProvider): Promise<History> {
  const ledger = new LedgerService(connection);
  const orders = orderModel(connection).collection;
  const past = new Date(Date.now() - 3_600_000);
  await projectModel(connection).collection.insertOne({
    _id: projectId, name: 'History', status: 'active', currency: 'USD', signing_keys: [], encryption_keys: [], created_at: past, updated_at: past,
  } satisfies Project as never);

  let n = 0;
  const base = (type: Order['order_type'], extra: Partial<Order>): Order => ({
    _id: `ord_${projectId}_${n}`,
    project_id: projectId,
    order_type: type,
    idempotency_key: `key-${n++}`,
    request_hash: 'h',
    status: 'completed',
    is_issued: false,
    data: {},
    rejected: false,
    attempts: 0,
    created_at: past,
    updated_at: past,
    ...extra,
  });
  const charged = async (order: Order): Promise<Order> => {
    const { entry } = await ledger.append({ project_id: projectId, order_id: order._id, kind: 'charge', amount: -order.data.total_charge!, currency: 'USD' });
    const stored = { ...order, balance_before: entry.balance_before, balance_after: entry.balance_after };
    await orders.insertOne({ ...stored } as never);
    return stored;
  };
  const refund = (order: Order, amount: number) =>
    ledger.append({ project_id: projectId, order_id: order._id, kind: 'refund', amount, currency: 'USD' });
  const card = (total: number, initial: number) => ({ currency: 'USD', product_code: 'VIRTUAL_USD', issue_fee: total - initial, initial_balance: initial, total_charge: total });

  const depositDraft = base('balance_deposit', { data: { amount: 100_000, reason: 'float', currency: 'USD' }, completed_at: past });
  const { entry: dep } = await ledger.append({ project_id: projectId, order_id: depositDraft._id, kind: 'deposit', amount: 100_000, currency: 'USD' });
  const deposit = { ...depositDraft, balance_before: dep.balance_before, balance_after: dep.balance_after };
  await orders.insertOne({ ...deposit } as never);

  const completed = await charged(
    base('card_issue', { status: 'completed', issue_status: 'completed', is_issued: true, card_id: `card_${projectId}`, data: card(1500, 1400), completed_at: past }),
  );
  const createFailed = await charged(
    base('card_issue', { status: 'failed', issue_status: 'card_create_error', last_error_slug: 'provider_declined', data: card(1200, 1000), failed_at: past }),
  );
  await refund(createFailed, 1200);
  const activating = await charged(
    base('card_issue', { status: 'activating', issue_status: 'card_create_pending', data: card(900, 800), updated_at: new Date(Date.now() - 60_000) }),
  );
  const topupFailed = await charged(
    base('card_issue', { status: 'failed', issue_status: 'initial_topup_error', last_error_slug: 'provider_timeout', data: card(1300, 1000), failed_at: past }),
  );
  await refund(topupFailed, 1000);
  // Nothing to charge: the order records the balance at that moment and no ledger entry.
  const free = base('card_issue', { status: 'completed', issue_status: 'completed', is_issued: true, data: card(0, 0), completed_at: past });
  const balanceNow = await ledger.balance(projectId);
  await orders.insertOne({ ...free, balance_before: balanceNow, balance_after: balanceNow } as never);
  const rejected = base('card_issue', { status: 'failed', rejected: true, last_error_slug: 'insufficient_funds', data: card(10_000_000, 0), failed_at: past });
  await orders.insertOne({ ...rejected } as never);

  const cardDoc: Card = {
    _id: `card_${projectId}`,
    project_id: projectId,
    order_id: completed._id,
    provider_card_id: `pc_${projectId}`,
    status: 'active',
    masked_pan: '411111******1111',
    secrets: { key_id: 'k1', iv: 'aXY=', ciphertext: 'Y3Q=', tag: 'dGFn' },
    currency: 'USD',
    product_code: 'VIRTUAL_USD',
    external_user_id: 'u-1',
    created_at: past,
    updated_at: past,
  };
  await cardModel(connection).collection.insertMany([{ ...cardDoc }, { ...cardDoc, _id: `card_${projectId}_free`, order_id: free._id, provider_card_id: `pc_${projectId}_free` }] as never[]);
  provider.cards.set(`pc_${projectId}_free`, { providerCardId: `pc_${projectId}_free`, status: 'active', maskedPan: cardDoc.masked_pan, currency: 'USD', balance: 0 });
  provider.cards.set(cardDoc.provider_card_id, { providerCardId: cardDoc.provider_card_id, status: 'active', maskedPan: cardDoc.masked_pan, currency: 'USD', balance: 1400 });

  return { projectId, deposit, completed, createFailed, topupFailed, rejected, activating, card: cardDoc };
}

export async function ledgerOf(connection: Connection, projectId: string): Promise<LedgerEntry[]> {
  return ledgerEntryModel(connection).find({ project_id: projectId }).sort({ seq: 1 }).lean<LedgerEntry[]>();
}
