import { Schema, type Connection, type Model } from 'mongoose';
import { cardholderIdFor } from '../ids/ids.js';

/** A partner's end user. Only verified cardholders get cards. */
export type VerificationStatus = 'pending' | 'verified' | 'rejected';

export interface BillingAddress {
  line1: string;
  line2?: string;
  city: string;
  postal_code: string;
  /** ISO 3166-1 alpha-2 */
  country: string;
  state?: string;
}

export interface Cardholder {
  _id: string;
  project_id: string;
  external_user_id: string;
  verification_status: VerificationStatus;
  first_name?: string;
  last_name?: string;
  /**
   * `partner`: created through the partner API, verified by the provider (src/cardholders/).
   * Absent: created by staff, who set the status themselves.
   */
  source?: 'partner';
  billing_address?: BillingAddress;
  email?: string;
  phone?: string;
  /** The provider's customer account, once it answered createAccount. */
  provider_account_id?: string;
  /** When the provider's verdict was recorded. */
  verified_at?: Date;
  rejected_at?: Date;
  created_at: Date;
  updated_at: Date;
}

const cardholderSchema = new Schema<Cardholder>(
  {
    _id: { type: String, required: true },
    project_id: { type: String, required: true },
    external_user_id: { type: String, required: true },
    verification_status: { type: String, enum: ['pending', 'verified', 'rejected'], required: true, default: 'pending' },
    first_name: { type: String },
    last_name: { type: String },
    source: { type: String, enum: ['partner'] },
    billing_address: {
      type: new Schema<BillingAddress>(
        {
          line1: { type: String, required: true },
          line2: { type: String },
          city: { type: String, required: true },
          postal_code: { type: String, required: true },
          country: { type: String, required: true },
          state: { type: String },
        },
        { _id: false },
      ),
    },
    email: { type: String },
    phone: { type: String },
    provider_account_id: { type: String },
    verified_at: { type: Date },
    rejected_at: { type: Date },
  },
  { timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' }, versionKey: false },
);
cardholderSchema.index({ project_id: 1, external_user_id: 1 }, { unique: true });
// The webhook outbox reads the cardholders changed since its watermark (src/webhooks/cardholder-events.ts).
cardholderSchema.index({ updated_at: 1, _id: 1 });

export function cardholderModel(connection: Connection): Model<Cardholder> {
  return (
    (connection.models.Cardholder as Model<Cardholder> | undefined) ??
    connection.model<Cardholder>('Cardholder', cardholderSchema, 'cardholders')
  );
}

/**
 * A project's cardholder by external_user_id. Cardholders are stored under
 * cardholderIdFor(project, external_user_id), so this is a lookup by _id; one stored before ids
 * were derived is found by the unique index instead (on the embedded store, a scan).
 */
export async function findCardholder(cardholders: Model<Cardholder>, projectId: string, externalUserId: string): Promise<Cardholder | null> {
  return (
    (await cardholders.findOne({ _id: cardholderIdFor(projectId, externalUserId), project_id: projectId, external_user_id: externalUserId }).lean<Cardholder>()) ??
    cardholders.findOne({ project_id: projectId, external_user_id: externalUserId }).lean<Cardholder>()
  );
}
