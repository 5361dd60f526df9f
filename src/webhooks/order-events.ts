import type { Connection, Model } from 'mongoose';
import { eventIdFor } from '../ids/ids.js';
import type { Logger } from '../logging/logger.js';
import { currencyExponent } from '../money/money.js';
import { orderModel, type Order, type OrderStatus } from '../orders/order-model.js';
import { OrderRefunds } from '../orders/order-refunds.js';
import { toOrderView } from '../orders/order-view.js';
import { projectModel, type Project } from '../projects/project-model.js';
import { cardChangeOf, cardEventId, type CardEventRecorder } from './card-events.js';
import { RecordedIds, insertEvent, scanChanges } from './change-scan.js';
import { pendingEvent, webhookModels, type WebhookModels } from './webhook-models.js';

/** Event types of orders: `order.<state>`; a card's are `card.<state>` (card-events.ts). */
export const ORDER_EVENT_STATES = ['created', 'activating', 'processing', 'completed', 'failed'] as const;
export type OrderEventState = (typeof ORDER_EVENT_STATES)[number];

const SEQUENCE: Record<OrderEventState, number> = { created: 0, activating: 1, processing: 2, completed: 3, failed: 3 };
const STATE_OF: Record<OrderStatus, OrderEventState> = { new: 'created', activating: 'activating', processing: 'processing', completed: 'completed', failed: 'failed' };
/** A card operation never activates; `activating` is not one of its states (listed for the type's sake). */
const CARD_OP_PATH: Record<OrderStatus, OrderEventState[]> = {
  new: ['created'],
  activating: ['created', 'activating'],
  processing: ['created', 'processing'],
  completed: ['created', 'processing', 'completed'],
  failed: ['created', 'processing', 'failed'],
};

/**
 * Every state an order has passed through, known from the order alone: the workflow's path is
 * fixed (card issue: new -> activating -> processing -> completed; failed from activating when
 * the card was not made, from processing when the top-up failed; card operations: new ->
 * processing -> completed | failed, an error being recorded in processing first). So a state the
 * scan never saw (it lasted less than a poll, or the process crashed right after writing it) is
 * still derived.
 */
export function statesOf(order: Pick<Order, 'order_type' | 'status' | 'issue_status' | 'rejected'>): OrderEventState[] {
  const final = STATE_OF[order.status];
  // Refused at creation (the partner had its 422) and deposits: one event, the state they were stored in.
  if (order.order_type === 'balance_deposit' || order.rejected) return [final];
  if (order.order_type !== 'card_issue') return CARD_OP_PATH[order.status];
  const path: OrderEventState[] = ['created', 'activating', 'processing'];
  if (order.status !== 'failed') return [...path.slice(0, SEQUENCE[final]), final];
  const reached = order.issue_status?.startsWith('initial_topup') ? 'processing' : order.issue_status?.startsWith('card_create') ? 'activating' : 'created';
  return [...path.slice(0, SEQUENCE[reached] + 1), 'failed'];
}


/**
 * The outbox without transactions: events are derived from what the store records (the orders;
 * card events from the orders that changed a card, and from provider events in src/provider/webhooks/),
 * never written beside an order update, so no crash between the two can lose one. A scan reads
 * the orders changed since its watermark (minus an overlap), derives each one's states and
 * inserts their events under ids derived from (order, state): a state derived twice, by two scans
 * or two processes, is one event. The watermark advances only after the events are stored.
 */
export class OrderEventOutbox {
  private readonly models: WebhookModels;
  private readonly orders: Model<Order>;
  private readonly projects: Model<Project>;
  private readonly refunds: OrderRefunds;
  private readonly recorded = new RecordedIds();

  constructor(
    connection: Connection,
    private readonly options: { retryForS: number },
    private readonly logger: Logger,
    private readonly cardEvents: CardEventRecorder,
  ) {
    this.models = webhookModels(connection);
    this.orders = orderModel(connection);
    this.projects = projectModel(connection);
    this.refunds = new OrderRefunds(connection);
  }

  /** One scan; returns how many new events were stored. */
  scan(now = new Date()): Promise<number> {
    return scanChanges(this.models, 'orders', this.orders, now, async (watched) => {
      const currencies = new Map(
        (await this.projects.find({ _id: { $in: [...watched] } }, { currency: 1 }).lean<Pick<Project, '_id' | 'currency'>[]>()).map((p) => [p._id, p.currency]),
      );
      return async (order) => {
        const currency = currencies.get(order.project_id);
        return currency === undefined ? 0 : this.record(order, currency, now);
      };
    });
  }

  /**
   * Stores the order's events not stored yet, in sequence order (so an event's predecessors exist
   * before it), then the card event of the change it made, if it made one: after the order's own
   * events, and in the scan's updated_at order, so one card's changes are recorded in turn.
   */
  private async record(order: Order, currency: string, now: Date): Promise<number> {
    let stored = await this.recordOrderEvents(order, currency, now);
    const change = cardChangeOf(order);
    if (change && !this.recorded.has(cardEventId(change))) {
      if (await this.cardEvents.record(change, now)) stored++;
      this.recorded.add(cardEventId(change));
    }
    return stored;
  }

  private async recordOrderEvents(order: Order, currency: string, now: Date): Promise<number> {
    const states = statesOf(order).filter((s) => !this.recorded.has(eventIdFor(order._id, s)));
    if (states.length === 0) return 0;
    const exponent = currencyExponent(currency);
    const [view] = await this.refunds.attach(order.project_id, [toOrderView(order, exponent)], exponent);
    let stored = 0;
    for (const s of states) {
      const event = pendingEvent(
        { _id: eventIdFor(order._id, s), project_id: order.project_id, type: `order.${s}`, subject_type: 'order', subject_id: order._id, sequence: SEQUENCE[s], data: view as unknown as Record<string, unknown> },
        now,
        this.options.retryForS,
      );
      if (await insertEvent(this.models, event)) stored++;
      this.recorded.add(event._id);
    }
    if (stored > 0) this.logger.debug('webhook events recorded', { order_id: order._id, count: stored });
    return stored;
  }
}
