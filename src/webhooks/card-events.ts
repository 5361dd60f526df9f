import type { Connection, Model } from 'mongoose';
import { cardTerminationModel, type CardTermination } from '../card-ops/card-state.js';
import { cardModel, type Card, type CardStatus } from '../cards/card-model.js';
import { eventIdFor } from '../ids/ids.js';
import { KeyedMutex } from '../ledger/keyed-mutex.js';
import type { Logger } from '../logging/logger.js';
import { orderModel, UNFINISHED_STATUSES, type Order, type OrderType } from '../orders/order-model.js';
import { toCardListItem } from '../partner-ops/card-list.js';
import { isDuplicateKeyError } from '../store/duplicate-key.js';
import { pendingEvent, webhookModels, type WebhookEvent, type WebhookModels } from './webhook-models.js';

/** The state a completed order puts its card in; other orders do not change a card's state. */
const STATE_AFTER: Partial<Record<OrderType, CardStatus>> = {
  card_issue: 'active',
  card_freeze: 'frozen',
  card_unfreeze: 'active',
  card_terminate: 'terminated',
};

/** Where a card change was learnt: the order that made it, or the provider's event that reported it. */
export type CardChangeSource = { order: string } | { provider_event: string };

export interface CardChange {
  cardId: string;
  state: CardStatus;
  source: CardChangeSource;
  /** Milliseconds since the epoch on the gateway's clock, when the change was known to be done. */
  time: number;
}

/** The card change a stored order records, if it is one: derived from the order alone, like its order events. */
export function cardChangeOf(order: Pick<Order, '_id' | 'order_type' | 'status' | 'card_id' | 'completed_at'>): CardChange | undefined {
  const state = STATE_AFTER[order.order_type];
  if (!state || order.status !== 'completed' || !order.card_id || !order.completed_at) return undefined;
  return { cardId: order.card_id, state, source: { order: order._id }, time: order.completed_at.getTime() };
}

/**
 * The id of a card's event. A card is active or frozen many times, so those ids name the change
 * (its order or provider event); it is terminated once, so every source of that change (the
 * terminate order, the provider's event) names the same event.
 */
export function cardEventId(change: Pick<CardChange, 'cardId' | 'state' | 'source'>): string {
  if (change.state === 'terminated') return eventIdFor(change.cardId, 'terminated');
  const source = 'order' in change.source ? `order:${change.source.order}` : `provider:${change.source.provider_event}`;
  return eventIdFor(change.cardId, `${change.state}:${source}`);
}

/** Rounds of deciding again, each after another process took the card's next position first. */
const MAX_ROUNDS = 64;

/** A change's time: events recorded before the chain carried it in `sequence`. */
function changeTime(event: Pick<WebhookEvent, 'sequence' | 'changed_at'>): number {
  return event.changed_at?.getTime() ?? event.sequence;
}

/**
 * Records `card.<state>` events as a chain per card: a card's events take positions 0, 1, 2, ...
 * as their `sequence`, and the unique index on (subject_id, sequence) lets one event take each
 * position, whichever process records it. So a decision is made against the card's latest event
 * and is stored only if that is still the latest: the loser of a race for a position decides again
 * against the winner. The dispatcher sends a card's events in sequence order, which is then the
 * order they were decided in. An event is recorded only if it moves the partner's view of the
 * card forward: its state differs from the latest event's and its change is later (a change learnt
 * late, after a later one was recorded, is not sent behind it); and no active/frozen is recorded
 * once the card's termination was recorded before the change. A terminated event always comes last.
 */
export class CardEventRecorder {
  private readonly models: WebhookModels;
  private readonly cards: Model<Card>;
  private readonly orders: Model<Order>;
  private readonly terminations: Model<CardTermination>;
  private readonly turns = new KeyedMutex();

  constructor(
    connection: Connection,
    private readonly options: { retryForS: number },
    private readonly logger: Logger,
  ) {
    this.models = webhookModels(connection);
    this.cards = cardModel(connection);
    this.orders = orderModel(connection);
    this.terminations = cardTerminationModel(connection);
  }

  /**
   * The provider reported a change the gateway's card now carries: recorded if the project has an
   * active endpoint (orders' events are derived only for those too). Idempotent: a repeated
   * provider event is the same event id.
   */
  async fromProvider(card: Card, state: CardStatus, providerEventId: string, now = new Date()): Promise<boolean> {
    const endpoint = await this.models.endpoints.findById(card.project_id, { status: 1 }).lean();
    if (endpoint?.status !== 'active') return false;
    if (await this.madeByOrder(card._id, state)) return false;
    return this.record({ cardId: card._id, state, source: { provider_event: providerEventId }, time: now.getTime() }, now, card);
  }

  /**
   * Whether the change the provider reports is one of the gateway's own orders: the card's latest
   * state-changing order is still running, or completed into this state. That order's event is
   * derived from the order by the outbox; recording the provider's report as well would race the
   * outbox, which may not have derived the card's earlier changes yet (they would then be older
   * than the latest event, and dropped). Only a change no order explains (the provider froze or
   * terminated the card itself) is recorded from the provider.
   */
  private async madeByOrder(cardId: string, state: CardStatus): Promise<boolean> {
    // The card_id index narrows this to the card's orders; the type filter runs on those.
    const latest = await this.orders
      .findOne({ card_id: cardId, order_type: { $in: Object.keys(STATE_AFTER) as OrderType[] } }, { order_type: 1, status: 1 })
      .sort({ created_at: -1, _id: -1 })
      .lean<Pick<Order, 'order_type' | 'status'>>();
    if (!latest) return false;
    return UNFINISHED_STATUSES.includes(latest.status) || (latest.status === 'completed' && STATE_AFTER[latest.order_type] === state);
  }

  /**
   * Returns whether a new event was stored. One card's events are decided one at a time in this
   * process (the scan and the provider's webhooks both record them), so its own decisions do not
   * race each other for a position; other processes' decisions do, and the chain settles those.
   */
  record(change: CardChange, now = new Date(), known?: Card): Promise<boolean> {
    return this.turns.run(change.cardId, () => this.decide(change, now, known));
  }

  private async decide(change: CardChange, now: Date, known: Card | undefined): Promise<boolean> {
    const id = cardEventId(change);
    const card = known ?? (await this.cards.findById(change.cardId, { secrets: 0 }).lean<Card>());
    if (!card) return false;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (change.state !== 'terminated') {
        const termination = await this.terminations.findById(card._id, { created_at: 1 }).lean();
        if (termination && change.time >= termination.created_at.getTime()) return false;
      }
      const latest = await this.models.events
        .findOne({ project_id: card.project_id, subject_id: card._id }, { type: 1, sequence: 1, changed_at: 1 })
        .sort({ sequence: -1 })
        .lean<Pick<WebhookEvent, '_id' | 'type' | 'sequence' | 'changed_at'>>();
      if (latest && (latest._id === id || latest.type === `card.${change.state}` || latest.type === 'card.terminated')) return false;
      if (latest && change.state !== 'terminated' && changeTime(latest) >= change.time) return false;
      const event = pendingEvent(
        {
          _id: id,
          project_id: card.project_id,
          type: `card.${change.state}`,
          subject_type: 'card',
          subject_id: card._id,
          sequence: latest ? latest.sequence + 1 : 0,
          // A termination learnt late still comes last: its time is no earlier than its predecessor's.
          changed_at: new Date(latest ? Math.max(change.time, changeTime(latest)) : change.time),
          data: toCardListItem(card) as unknown as Record<string, unknown>,
        },
        now,
        this.options.retryForS,
      );
      try {
        // One insert claims both keys: the event id and the card's next position. No crash between two writes.
        await this.models.events.collection.insertOne({ ...event } as never);
        this.logger.debug('card webhook event recorded', { card_id: card._id, type: event.type, sequence: event.sequence });
        return true;
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
      }
      // Refused on the event id (this change was recorded already: by another process, or deeper
      // in the chain) or on the position (another process recorded the card's next event first).
      if (await this.models.events.exists({ _id: id })) return false;
    }
    throw new Error(`card ${card._id}: its next event position was taken ${MAX_ROUNDS} times in a row`);
  }
}
