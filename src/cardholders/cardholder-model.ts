import { Schema, type Connection, type Model } from 'mongoose';
import { cardholderIdFor } from '../ids/ids.js';

/** A partner's end user. Only verified cardholders get cards. */
export type VerificationStatus = 'pending' | 'verified' | 'rejected';

export interface Cardholder {
  _id: string;
  project_id: string;
  external_user_id: string;
  verification_status: VerificationStatus;
  first_name?: string;
  last_name?: string;
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
  },
  { timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' }, versionKey: false },
);
cardholderSchema.index({ project_id: 1, external_user_id: 1 }, { unique: true });

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
