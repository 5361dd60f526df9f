import type { Connection, Model } from 'mongoose';
import { z } from 'zod';
import { CardState } from '../../card-ops/card-state.js';
import { cardModel, type Card, type CardStatus } from '../../cards/card-model.js';
import { orderModel, type Order } from '../../orders/order-model.js';
import { insertUnique, DuplicateKeyError } from '../../store/duplicate-key.js';
import type { CardEventRecorder } from '../../webhooks/card-events.js';
import { providerEventModel, type ProviderEvent } from './provider-event-model.js';

export const webhookEvent = z.object({
  id: z.string().min(1).max(100),
  type: z.enum(['card.issued', 'card.failed', 'card.deactivated', 'card.activated', 'card.terminated', 'card.updated']),
  createdAt: z.iso.datetime(),
  data: z.object({
    card: z.object({
      id: z.string().min(1).max(100),
      status: z.enum(['issuing', 'active', 'failed', 'inactive', 'terminated']),
      updatedAt: z.iso.datetime(),
    }),
  }),
});

export type WebhookEvent = z.infer<typeof webhookEvent>;

/** The provider's verdict on a customer account (`active`: verified). */
export const accountEvent = z.object({
  id: z.string().min(1).max(100),
  type: z.enum(['account.verified', 'account.rejected']),
  createdAt: z.iso.datetime(),
  data: z.object({
    account: z.object({
      id: z.string().min(1).max(100),
      reference: z.string().min(1).max(100),
      status: z.enum(['active', 'rejected']),
    }),
  }),
});

/** The gateway's card status for a provider status; `issuing` and `failed` say nothing about an issued card. */
const CARD_STATUS: Partial<Record<WebhookEvent['data']['card']['status'], Card['status']>> = {
  active: 'active',
  inactive: 'frozen',
  terminated: 'terminated',
};

export type WebhookOutcome = 'applied' | 'ignored' | 'duplicate';

/**
 * Applies verified provider card events. The card's `updatedAt` orders them: an event older than
 * the last one applied changes nothing, so reordered or late events (an `issuing` after `active`)
 * never move a card back, and a terminated card stays terminated. The event id is unique in
 * provider_events, so a repeated delivery is recorded once (and its update, conditional, is a no-op).
 */
export class WebhookService {
  private readonly cards: Model<Card>;
  private readonly orders: Model<Order>;
  private readonly events: Model<ProviderEvent>;

  private readonly state: CardState;

  constructor(
    connection: Connection,
    /** Records the partner's card events (src/webhooks/card-events.ts). */
    private readonly cardEvents: CardEventRecorder,
  ) {
    this.state = new CardState(connection);
    this.cards = cardModel(connection);
    this.orders = orderModel(connection);
    this.events = providerEventModel(connection);
  }

  async apply(event: WebhookEvent): Promise<WebhookOutcome> {
    const { card } = event.data;
    const updatedAt = new Date(card.updatedAt);
    const status = CARD_STATUS[card.status];
    // Terminated is final: recorded before it is written, as every terminating writer does (card-state.ts).
    if (status === 'terminated') await this.recordTermination(card.id);
    // The effect first, then the partner's card event, then the record: a crash between them
    // leaves a retry (the provider re-sends until we answer) that re-applies a conditional (hence
    // harmless) update and derives the same event id, never an event recorded but not applied.
    const applied = await this.applyToCard(card.id, status, updatedAt);
    if (status) await this.recordCardEvent(card.id, status, updatedAt, event.id);
    if (card.status === 'active' || card.status === 'failed') await this.nudgeWaitingOrder(card.id);
    try {
      await insertUnique('provider_events', () =>
        this.events.create({
          _id: event.id,
          type: event.type,
          provider_card_id: card.id,
          card_status: card.status,
          card_updated_at: updatedAt,
          applied,
          received_at: new Date(),
        }),
      );
    } catch (err) {
      if (err instanceof DuplicateKeyError) return 'duplicate';
      throw err;
    }
    return applied ? 'applied' : 'ignored';
  }

  private async applyToCard(providerCardId: string, status: Card['status'] | undefined, updatedAt: Date): Promise<boolean> {
    if (!status) return false;
    const { modifiedCount } = await this.cards.updateOne(
      {
        provider_card_id: providerCardId,
        status: { $ne: 'terminated' },
        // The provider's terminated is final whatever its time; other states only move forward.
        ...(status !== 'terminated' && { $or: [{ provider_updated_at: { $exists: false } }, { provider_updated_at: { $lt: updatedAt } }] }),
      },
      { $set: { status, provider_updated_at: updatedAt } },
    );
    return modifiedCount === 1;
  }

  private async recordTermination(providerCardId: string): Promise<void> {
    const target = await this.cards.findOne({ provider_card_id: providerCardId }, { _id: 1 }).lean<Pick<Card, '_id'>>();
    if (target) await this.state.recordTermination(target._id);
  }

  /**
   * The partner's card event, when the card carries this event's state (this event set it, now or
   * before a crash). Reading the card again rather than trusting `applied` is what makes a
   * re-sent event derive the event a crash kept from being recorded.
   */
  private async recordCardEvent(providerCardId: string, status: CardStatus, updatedAt: Date, eventId: string): Promise<void> {
    const now = await this.cards.findOne({ provider_card_id: providerCardId }, { secrets: 0 }).lean<Card>();
    if (!now || now.status !== status || now.provider_updated_at?.getTime() !== updatedAt.getTime()) return;
    await this.cardEvents.fromProvider(now, status, eventId);
  }

  /** An order polling a card at `issuing` is asked about it now rather than at its next poll. */
  private async nudgeWaitingOrder(providerCardId: string): Promise<void> {
    await this.orders.updateOne(
      { provider_card_id: providerCardId, status: 'activating', issue_status: 'card_create_pending', next_attempt_at: { $gt: new Date() } },
      { $set: { next_attempt_at: new Date() } },
      { timestamps: false },
    );
  }
}
