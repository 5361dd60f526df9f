import { Schema, type Connection, type Model } from 'mongoose';

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
