import type { Model } from 'mongoose';
import type { Card } from '../cards/card-model.js';
import { TERMINAL_STATUSES, type Order } from '../orders/order-model.js';
import type { CardProvider, ProviderCard } from '../provider/card-provider.js';
import type { Fault } from './faults.js';

/** What the inventory needs of a reconciliation run. */
export interface InventoryRun {
  fault(fault: Fault): void;
  /** Orders changed after this (ms since epoch) are in flight. */
  settledBefore: number;
}

const LIVE: ProviderCard['status'][] = ['active', 'inactive'];

/**
 * The provider's side of the card comparison: every card of the programme, listed page by page
 * (`GET /v1/cards`), against the cards the gateway holds. A live card (active or inactive) the
 * gateway holds no card for is `provider_card_unknown` (an orphan: made for an order that then
 * failed, or for no order at all), unless its order is still in flight. Status differences and
 * cards missing at the provider are the per-card checks of the reconciler. With `projectIds`, only
 * cards whose order belongs to one of them are reported.
 */
export async function checkProviderInventory(
  models: { cards: Model<Card>; orders: Model<Order> },
  provider: CardProvider,
  run: InventoryRun,
  projectIds?: string[],
): Promise<number> {
  let listed = 0;
  for (let page: number | undefined = 1; page !== undefined; ) {
    const result = await provider.listCards({ page });
    page = result.nextPage;
    listed += result.cards.length;
    const live = result.cards.filter((c) => LIVE.includes(c.status));
    if (live.length === 0) continue;
    const held = new Set(
      (await models.cards.find({ provider_card_id: { $in: live.map((c) => c.providerCardId) } }, { provider_card_id: 1 }).lean<Pick<Card, 'provider_card_id'>[]>()).map(
        (c) => c.provider_card_id,
      ),
    );
    const unknown = live.filter((c) => !held.has(c.providerCardId));
    if (unknown.length === 0) continue;
    const orderIds = unknown.map((c) => c.orderId).filter((id): id is string => id !== undefined);
    const orders = new Map(
      (await models.orders.find({ _id: { $in: orderIds } }, { project_id: 1, status: 1, updated_at: 1 }).lean<Pick<Order, '_id' | 'project_id' | 'status' | 'updated_at'>[]>()).map(
        (o) => [o._id, o],
      ),
    );
    for (const card of unknown) {
      const order = card.orderId === undefined ? undefined : orders.get(card.orderId);
      if (projectIds && (!order || !projectIds.includes(order.project_id))) continue;
      if (order && (!TERMINAL_STATUSES.includes(order.status) || order.updated_at.getTime() > run.settledBefore)) continue;
      run.fault({
        kind: 'provider_card_unknown',
        project_id: order?.project_id ?? '(none)',
        ...(card.orderId !== undefined && { order_id: card.orderId }),
        detail: `provider card ${card.providerCardId} is ${card.status}; the gateway holds no card for it${order ? ` (order ${order.status})` : ' (no such order)'}`,
      });
    }
  }
  return listed;
}
