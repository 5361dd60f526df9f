import { Schema, type Connection, type Model } from 'mongoose';

/**
 * Webhooks to partners: one endpoint per project, the events (the outbox, with their delivery
 * state) and every delivery attempt (the log staff read).
 */
export interface WebhookEndpoint {
  /** The project's id: one endpoint per project. */
  _id: string;
  url: string;
  status: 'active' | 'disabled';
  created_at: Date;
  updated_at: Date;
}

/** `<subject>.<state>`: `order.*` (order-events.ts), `card.*` (card-events.ts) and `cardholder.*` (cardholder-events.ts). */
export const SUBJECT_TYPES = ['order', 'card', 'cardholder'] as const;
export type SubjectType = (typeof SUBJECT_TYPES)[number];
export type EventStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookEvent {
  /** Derived from the subject and its change (eventIdFor, cardEventId): the same event derived twice is one document. */
  _id: string;
  project_id: string;
  type: string;
  subject_type: SubjectType;
  subject_id: string;
  /**
   * Events of one subject are delivered in this order: an order state's place (0-3), a card
   * event's position in its card's chain (0, 1, 2, ...), a cardholder verdict's time (ms). Unique per subject.
   */
  sequence: number;
  /** Card events: the change's time on the gateway's clock (decides whether a later-learnt change is stale). */
  changed_at?: Date;
  /** What the partner receives as `data`: the subject's wire view when the event was recorded. */
  data: Record<string, unknown>;
  created_at: Date;
  status: EventStatus;
  attempts: number;
  next_attempt_at: Date;
  /** Retried until then (created_at + WEBHOOK_RETRY_FOR_S; a redelivery starts a new period). */
  retry_until: Date;
  delivered_at?: Date;
  last_error?: string;
}

export type AttemptOutcome = 'delivered' | 'http_error' | 'timeout' | 'network_error' | 'address_refused' | 'no_key';

export interface WebhookAttempt {
  /** event id : attempt number. */
  _id: string;
  event_id: string;
  project_id: string;
  attempt: number;
  url: string;
  started_at: Date;
  duration_ms: number;
  outcome: AttemptOutcome;
  http_status?: number;
  /** A fixed description (never the partner's answer body). */
  error?: string;
}

/** How far the outbox has read the orders' change stream (updated_at), per source. */
export interface WebhookScan {
  _id: string;
  watermark: Date;
  updated_at: Date;
}

const endpointSchema = new Schema<WebhookEndpoint>(
  {
    _id: { type: String, required: true },
    url: { type: String, required: true },
    status: { type: String, enum: ['active', 'disabled'], required: true },
  },
  { timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' }, versionKey: false },
);
endpointSchema.index({ status: 1 });

const eventSchema = new Schema<WebhookEvent>(
  {
    _id: { type: String, required: true },
    project_id: { type: String, required: true },
    type: { type: String, required: true },
    subject_type: { type: String, enum: SUBJECT_TYPES, required: true },
    subject_id: { type: String, required: true },
    sequence: { type: Number, required: true },
    changed_at: { type: Date },
    data: { type: Schema.Types.Mixed, required: true },
    created_at: { type: Date, required: true },
    status: { type: String, enum: ['pending', 'delivered', 'failed'], required: true },
    attempts: { type: Number, required: true },
    next_attempt_at: { type: Date, required: true },
    retry_until: { type: Date, required: true },
    delivered_at: { type: Date },
    last_error: { type: String },
  },
  { versionKey: false, minimize: false },
);
// The dispatcher's query: pending events that are due, earliest first.
eventSchema.index({ status: 1, next_attempt_at: 1 });
// In order per subject: is an earlier event of this subject still pending?
eventSchema.index({ project_id: 1, subject_id: 1, sequence: 1 });
// One event per place in a subject's order: a card's next chain position is taken by one insert,
// whichever process makes it (card-events.ts); an order's states have distinct places (completed
// and failed share 3, and an order ends one way).
eventSchema.index({ subject_id: 1, sequence: 1 }, { unique: true });
// Staff's delivery log of a project, newest first.
eventSchema.index({ project_id: 1, created_at: -1, _id: -1 });
// The same list narrowed by status (`GET /admin/v1/webhooks/events?status=failed`).
eventSchema.index({ project_id: 1, status: 1, created_at: -1, _id: -1 });

const attemptSchema = new Schema<WebhookAttempt>(
  {
    _id: { type: String, required: true },
    event_id: { type: String, required: true },
    project_id: { type: String, required: true },
    attempt: { type: Number, required: true },
    url: { type: String, required: true },
    started_at: { type: Date, required: true },
    duration_ms: { type: Number, required: true },
    outcome: { type: String, required: true },
    http_status: { type: Number },
    error: { type: String },
  },
  { versionKey: false },
);
attemptSchema.index({ event_id: 1, attempt: 1 });

const scanSchema = new Schema<WebhookScan>(
  { _id: { type: String, required: true }, watermark: { type: Date, required: true }, updated_at: { type: Date, required: true } },
  { versionKey: false },
);

export interface WebhookModels {
  endpoints: Model<WebhookEndpoint>;
  events: Model<WebhookEvent>;
  attempts: Model<WebhookAttempt>;
  scans: Model<WebhookScan>;
}

/** What an event says; the rest is its delivery state. */
export type NewEvent = Pick<WebhookEvent, '_id' | 'project_id' | 'type' | 'subject_type' | 'subject_id' | 'sequence' | 'data'> & Partial<Pick<WebhookEvent, 'changed_at'>>;

/** A new event, pending and due now, retried for `retryForS` seconds. */
export function pendingEvent(event: NewEvent, now: Date, retryForS: number): WebhookEvent {
  return { ...event, created_at: now, status: 'pending', attempts: 0, next_attempt_at: now, retry_until: new Date(now.getTime() + retryForS * 1000) };
}

export function webhookModels(connection: Connection): WebhookModels {
  const model = <T>(name: string, schema: Schema<T>, collection: string): Model<T> =>
    (connection.models[name] as Model<T> | undefined) ?? connection.model<T>(name, schema, collection);
  return {
    endpoints: model('WebhookEndpoint', endpointSchema, 'webhook_endpoints'),
    events: model('WebhookEvent', eventSchema, 'webhook_events'),
    attempts: model('WebhookAttempt', attemptSchema, 'webhook_attempts'),
    scans: model('WebhookScan', scanSchema, 'webhook_scans'),
  };
}
