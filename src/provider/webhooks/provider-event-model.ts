import { Schema, type Connection, type Model } from 'mongoose';

/** A provider webhook event the gateway received; `_id` is the provider's event id, so each is kept once. */
export interface ProviderEvent {
  _id: string;
  type: string;
  provider_card_id: string;
  card_status: string;
  card_updated_at: Date;
  /** Whether the event changed the gateway's card (false: older than what we had, or no card yet). */
  applied: boolean;
  received_at: Date;
}

const schema = new Schema<ProviderEvent>(
  {
    _id: { type: String, required: true },
    type: { type: String, required: true },
    provider_card_id: { type: String, required: true },
    card_status: { type: String, required: true },
    card_updated_at: { type: Date, required: true },
    applied: { type: Boolean, required: true },
    received_at: { type: Date, required: true },
  },
  { versionKey: false },
);

export function providerEventModel(connection: Connection): Model<ProviderEvent> {
  return (connection.models.ProviderEvent as Model<ProviderEvent> | undefined) ?? connection.model<ProviderEvent>('ProviderEvent', schema, 'provider_events');
}
