import type { Connection, Model } from 'mongoose';
import { cardholderModel, type Cardholder } from '../cardholders/cardholder-model.js';
import { partnerCardholderView } from '../cardholders/cardholder-request.js';
import { eventIdFor } from '../ids/ids.js';
import type { Logger } from '../logging/logger.js';
import { RecordedIds, insertEvent, scanChanges } from './change-scan.js';
import { pendingEvent, webhookModels, type NewEvent, type WebhookModels } from './webhook-models.js';

/** Event types of cardholders: the outcome of their verification. */
export const CARDHOLDER_EVENT_TYPES = ['cardholder.verified', 'cardholder.rejected'] as const;


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
 * The cardholders' outbox, built like the orders' (order-events.ts, both on change-scan.ts): no
 * event is written beside a verdict; a scan reads the cardholders changed since its watermark,
 * derives each one's verdict event and inserts it under its derived id. So a verdict recorded by
 * any path (the provider's answer, its webhook, the sweeper, staff) becomes an event even when the
 * process that recorded it crashed right after.
 */
export class CardholderEventOutbox {
  private readonly models: WebhookModels;
  private readonly cardholders: Model<Cardholder>;
  private readonly recorded = new RecordedIds();

  constructor(
    connection: Connection,
    private readonly options: { retryForS: number },
    private readonly logger: Logger,
  ) {
    this.models = webhookModels(connection);
    this.cardholders = cardholderModel(connection);
  }

  /** One scan; returns how many new events were stored. */
  scan(now = new Date()): Promise<number> {
    return scanChanges(this.models, 'cardholders', this.cardholders, now, () =>
      Promise.resolve(async (holder: Cardholder) => {
        const event = cardholderEventOf(holder);
        if (!event || this.recorded.has(event._id)) return 0;
        const stored = await insertEvent(this.models, pendingEvent(event, now, this.options.retryForS));
        if (stored) this.logger.debug('webhook events recorded', { cardholder_id: event.subject_id, count: 1 });
        this.recorded.add(event._id);
        return stored ? 1 : 0;
      }),
    );
  }
}
