import { z } from 'zod';
import { CARD_STATUSES } from '../cards/card-model.js';
import { CARDHOLDER_EVENT_TYPES } from '../webhooks/cardholder-events.js';
import { ORDER_EVENT_STATES } from '../webhooks/order-events.js';
import type { SubjectType } from '../webhooks/webhook-models.js';
import * as R from './response-schemas.js';

/**
 * Every webhook event type with what it carries, for the OpenAPI document's `webhooks` section
 * (document.ts). The conformance test validates real delivered events against it and requires a
 * delivery of each type, so a new event type is an entry here.
 */
export interface WebhookEventDescriptor {
  type: string;
  subject: SubjectType;
  summary: string;
  /** The `event.data` member: the subject as the partner API shows it. */
  data: z.ZodType;
  /** What `event.sequence` is for this subject. */
  sequence: string;
}

const ORDER_SEQUENCE = "the order state's place: created 0, activating 1, processing 2, completed or failed 3";
const ORDER_EVENTS: Record<(typeof ORDER_EVENT_STATES)[number], string> = {
  created: 'An order was accepted (card issue or card operation; charged where it charges).',
  activating: 'A card order reached card creation at the provider.',
  processing: "A card order's card exists (its initial top-up follows), or a card operation went to the provider.",
  completed: 'An order completed (also a staff deposit to the master balance).',
  failed: 'An order failed: refused at creation (the 422, 404 or 409 the partner had, stored as a failed order) or later in the workflow; its refunds are on the order.',
};

const CARD_EVENTS: Record<(typeof CARD_STATUSES)[number], string> = {
  active: 'A card was issued, or unfrozen (by a card_unfreeze order or the provider).',
  frozen: 'A card was frozen (by a card_freeze order or the provider).',
  terminated: "A card was terminated: once per card, always the card's last event.",
};

const CARDHOLDER_EVENTS: Record<(typeof CARDHOLDER_EVENT_TYPES)[number], string> = {
  'cardholder.verified': 'A cardholder was verified (by the card provider, or set so by the gateway staff): cards can be issued to it.',
  'cardholder.rejected': 'A cardholder was rejected (by the card provider, or set so by the gateway staff): cards/create answers cardholder_rejected.',
};

export const WEBHOOK_EVENTS: WebhookEventDescriptor[] = [
  ...ORDER_EVENT_STATES.map((state) => ({ type: `order.${state}`, subject: 'order' as const, summary: ORDER_EVENTS[state], data: R.partnerOrderView, sequence: ORDER_SEQUENCE })),
  ...CARD_STATUSES.map((state) => ({
    type: `card.${state}`,
    subject: 'card' as const,
    summary: CARD_EVENTS[state],
    data: R.cardListItem,
    sequence: "the event's place in its card's chain: 0 for the card's first event, then 1, 2, ... without gaps",
  })),
  ...CARDHOLDER_EVENT_TYPES.map((type) => ({
    type,
    subject: 'cardholder' as const,
    summary: CARDHOLDER_EVENTS[type],
    data: R.partnerCardholderView,
    sequence: "the verdict's time in milliseconds since the epoch (a later verdict on the same cardholder is higher)",
  })),
];

/** What a partner's endpoint receives inside the seal for one event type (docs/partner-api.md, "Webhooks"). */
export function sealedEventSchema(e: WebhookEventDescriptor): z.ZodType {
  return z.strictObject({
    iss: z.string().describe('the gateway (its GATEWAY_AUDIENCE): check it equals the audience you sign requests for'),
    aud: z.string().describe('the project the event is for: check it is yours'),
    iat: z.number().int().describe('seconds since the epoch when this delivery attempt was sealed: refuse one older than your window (the client: 300 s)'),
    kind: z.literal('webhook_event').describe('what the message is: refuse anything else'),
    event: z.strictObject({
      id: z.string().describe('evt_…, stable per change: deduplicate on it; equals the Webhook-Id header'),
      type: z.literal(e.type).describe('equals the Webhook-Type header'),
      project_id: z.string(),
      subject: z.strictObject({ type: z.literal(e.subject), id: z.string() }),
      sequence: z.number().int().describe(e.sequence),
      created_at: z.string().describe('ISO 8601 time, UTC: when the event was recorded'),
      data: e.data,
    }),
  });
}
