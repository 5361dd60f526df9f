import assert from 'node:assert/strict';
import type { Connection } from 'mongoose';
import type { PartnerClient } from '@card-gateway/client';
import { cardModel, type Card } from '../../src/cards/card-model.js';
import { ledgerEntryModel, type LedgerEntry } from '../../src/ledger/ledger-entry-model.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import { waitUntil } from '../support/gateway-process.js';
import type { Product } from '../../src/products/product-model.js';
import type { Project } from '../../src/projects/project-model.js';
import { deposit, makeCardholder, makeProduct } from '../support/orders-fixtures.js';
import { createTestProject, startTestGateway, type TestGateway } from '../support/partner.js';
import { simulatorState } from '../support/provider-sim.js';

/** Shared steps of the card-operation tests: a card issued through the API, orders waited for, stored state read. */

export const WORKER_CONFIG = {
  WORKER_ENABLED: 'true',
  WORKER_POLL_MS: '20',
  PROVIDER_RETRY_BASE_MS: '5',
  PROVIDER_MAX_ATTEMPTS: '2',
  RATE_LIMIT_PER_ADDRESS: '1000000',
  RATE_LIMIT_PER_PROJECT: '1000000',
};

export async function storedOrder(connection: Connection, orderId: string): Promise<Order> {
  const order = await orderModel(connection).findById(orderId).lean<Order>();
  assert.ok(order, `order ${orderId} stored`);
  return order;
}

/** Waits until the order is completed or failed and returns it as stored. */
export async function finished(connection: Connection, orderId: string, timeoutMs = 30_000): Promise<Order> {
  await waitUntil(async () => ['completed', 'failed'].includes((await storedOrder(connection, orderId)).status), timeoutMs, `order ${orderId} to finish`);
  return storedOrder(connection, orderId);
}

/** A card issued through cards/create and finished; returns its stored document. */
export async function issueCard(connection: Connection, client: PartnerClient, productCode: string, externalUserId: string, initialBalance?: string): Promise<Card> {
  const { data } = await client.createCard({ product_code: productCode, external_user_id: externalUserId, ...(initialBalance && { initial_balance: initialBalance }) });
  const order = await finished(connection, data.order_id);
  assert.equal(order.status, 'completed', `card issue ${order.last_error_slug ?? ''}`);
  const card = await cardModel(connection).findById(order.card_id).lean<Card>();
  assert.ok(card);
  return card;
}

export async function storedCard(connection: Connection, cardId: string): Promise<Card> {
  const card = await cardModel(connection).findById(cardId).lean<Card>();
  assert.ok(card);
  return card;
}

export async function entriesOf(connection: Connection, orderId: string): Promise<LedgerEntry[]> {
  return ledgerEntryModel(connection).find({ order_id: orderId }).sort({ seq: 1 }).lean<LedgerEntry[]>();
}

/** The simulator's card (status, balance) behind a gateway card. */
export async function providerCard(card: Pick<Card, 'provider_card_id'>) {
  const found = (await simulatorState()).cards.find((c) => c.id === card.provider_card_id);
  assert.ok(found, 'the simulator has the card');
  return found;
}

export interface CardOpsWorld {
  tg: TestGateway;
  client: PartnerClient;
  project: Project;
  product: Product;
  /** A verified cardholder's external_user_id. */
  user: string;
}

/**
 * What every card-operation suite starts from: a gateway with its worker, a project funded with
 * `deposit` minor units, a product and a verified cardholder; `config` adds to the worker's
 * settings. The caller closes `tg`.
 */
export async function cardOpsWorld(connection: Connection, options: { deposit: number; product?: Partial<Product>; config?: Record<string, string> }): Promise<CardOpsWorld> {
  const tg = await startTestGateway({ config: { ...WORKER_CONFIG, ...options.config } });
  await tg.gateway.start();
  const { client, project } = await createTestProject({ url: tg.url });
  const product = await makeProduct(connection, options.product ?? { issue_fee: 0 });
  const user = await makeCardholder(connection, project._id);
  await deposit(connection, project._id, options.deposit);
  return { tg, client, project, product, user };
}
