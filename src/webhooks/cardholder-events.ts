import type { Connection, Model } from 'mongoose';
import { cardholderModel, type Cardholder } from '../cardholders/cardholder-model.js';
import { partnerCardholderView } from '../cardholders/cardholder-request.js';
import { eventIdFor } from '../ids/ids.js';
import type { Logger } from '../logging/logger.js';
import { isDuplicateKeyError } from '../store/duplicate-key.js';
import { pendingEvent, webhookModels, type NewEvent, type WebhookModels } from './webhook-models.js';

/** Event types of cardholders: the outcome of their verification. */
export const CARDHOLDER_EVENT_TYPES = ['cardholder.verified', 'cardholder.rejected'] as const;

const BATCH = 500;
/** Cardholders written by a slow writer may carry an updated_at a little behind the watermark. */
const OVERLAP_MS = 5_000;
const REMEMBERED = 50_000;

/**
 * The event a cardholder's stored state gives, if it is a verdict: derived from the cardholder
 * alone, its id from (cardholder, verdict, the verdict's time), so one verdict derived by two
 * scans or two processes is one event, and a later verdict (staff may change a staff-made
 * cardholder's status) is another, with a higher sequence (the verdict's time in ms).
 */
export function cardholderEventOf(holder: Cardholder): NewEvent | undefined {
  const status = holder.verification_status;
  if (status === 'pending') return undefined;
  // Rows written before verdict times were recorded carry only their last change.
  const decidedAt = (status === 'verified' ? holder.verified_at : holder.rejected_at) ?? holder.updated_at;
  return {
    _id: eventIdFor(holder._id, `${status}:${decidedAt.getTime()}`),
    project_id: holder.project_id,
    type: `cardholder.${status}`,
    subject_type: 'cardholder',
    subject_id: holder._id,
    sequence: decidedAt.getTime(),
    data: partnerCardholderView(holder) as unknown as Record<string, unknown>,
  };
}

/**
 * The cardholders' outbox, built like the orders' (order-events.ts): no event is written beside a
 * verdict; a scan reads the cardholders changed since its watermark (minus an overlap), derives
 * each one's verdict event and inserts it under its derived id. So a verdict recorded by any path
 * (the provider's answer, its webhook, the sweeper, staff) becomes an event even when the process
 * that recorded it crashed right after. The watermark moves only after the events are stored.
 */
export class CardholderEventOutbox {
  private readonly models: WebhookModels;
  private readonly cardholders: Model<Cardholder>;
  /** Ids this process stored or found stored, so the overlap costs no repeated inserts. */
  private readonly recorded = new Set<string>();

  constructor(
    connection: Connection,
    private readonly options: { retryForS: number },
    private readonly logger: Logger,
  ) {
    this.models = webhookModels(connection);
    this.cardholders = cardholderModel(connection);
  }

  /** One scan; returns how many new events were stored. */
  async scan(now = new Date()): Promise<number> {
    const endpoints = await this.models.endpoints.find({ status: 'active' }, { _id: 1 }).lean<{ _id: string }[]>();
    const state = await this.models.scans.findById('cardholders').lean();
    // A first scan starts now: an endpoint receives what happens after it is registered.
    let watermark = state?.watermark ?? now;
    if (endpoints.length === 0) return 0;
    const watched = new Set(endpoints.map((e) => e._id));

    let stored = 0;
    let after: { at: Date; id: string } | undefined;
    const from = new Date(watermark.getTime() - OVERLAP_MS);
    for (;;) {
      const query: Record<string, unknown> = after
        ? // The plain bound beside the $or is what the (updated_at, _id) index is searched by.
          { updated_at: { $gte: after.at }, $or: [{ updated_at: { $gt: after.at } }, { updated_at: after.at, _id: { $gt: after.id } }] }
        : { updated_at: { $gte: from } };
      const rows = await this.cardholders.find(query).sort({ updated_at: 1, _id: 1 }).limit(BATCH).lean<Cardholder[]>();
      for (const holder of rows) {
        const event = watched.has(holder.project_id) ? cardholderEventOf(holder) : undefined;
        if (event && !this.recorded.has(event._id)) stored += await this.insert(event, now);
        if (holder.updated_at > watermark) watermark = holder.updated_at;
      }
      if (rows.length < BATCH) break;
      after = { at: rows.at(-1)!.updated_at, id: rows.at(-1)!._id };
    }
    await this.models.scans.updateOne({ _id: 'cardholders' }, { $set: { watermark, updated_at: new Date() } }, { upsert: true }).catch((err: unknown) => {
      if (!isDuplicateKeyError(err)) throw err; // two first scans raced: the other one's watermark stands
    });
    return stored;
  }

  private async insert(event: NewEvent, now: Date): Promise<number> {
    let stored = 0;
    try {
      await this.models.events.collection.insertOne({ ...pendingEvent(event, now, this.options.retryForS) } as never);
      stored = 1;
      this.logger.debug('webhook events recorded', { cardholder_id: event.subject_id, count: 1 });
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
    this.recorded.add(event._id);
    if (this.recorded.size > REMEMBERED) this.recorded.delete(this.recorded.values().next().value!);
    return stored;
  }
}
