import { Schema, type Connection, type Model } from 'mongoose';

/** A partner project: its status, its master-balance currency and the keys it speaks with. */

export type SigningAlg = 'ES256' | 'PS256' | 'RS256' | 'EdDSA';
export type ResponseEncryptionAlg = 'RSA-OAEP-256' | 'ECDH-ES+A256KW';
export type ProjectStatus = 'active' | 'disabled';

export interface ProjectKey<A extends string> {
  kid: string;
  alg: A;
  /** The public JWK, as registered. */
  jwk: Record<string, unknown>;
  status: 'active' | 'retired';
  created_at: Date;
  retired_at?: Date;
}

export interface Project {
  _id: string;
  name: string;
  status: ProjectStatus;
  /** Currency of the master balance; products charged to it must be in this currency. */
  currency: string;
  /** Keys that verify the project's request signatures; several at once for rotation. */
  signing_keys: ProjectKey<SigningAlg>[];
  /** Keys responses are encrypted to; the newest active one is used. */
  encryption_keys: ProjectKey<ResponseEncryptionAlg>[];
  created_at: Date;
  updated_at: Date;
}

const keySchema = new Schema(
  {
    kid: { type: String, required: true },
    alg: { type: String, required: true },
    jwk: { type: Schema.Types.Mixed, required: true },
    status: { type: String, enum: ['active', 'retired'], required: true, default: 'active' },
    created_at: { type: Date, required: true, default: () => new Date() },
    retired_at: { type: Date },
  },
  { _id: false },
);

const projectSchema = new Schema<Project>(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true },
    status: { type: String, enum: ['active', 'disabled'], required: true, default: 'active' },
    currency: { type: String, required: true, default: 'USD' },
    signing_keys: { type: [keySchema], default: [] },
    encryption_keys: { type: [keySchema], default: [] },
  },
  { timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' }, versionKey: false },
);

export function projectModel(connection: Connection): Model<Project> {
  return (connection.models.Project as Model<Project> | undefined) ?? connection.model<Project>('Project', projectSchema, 'projects');
}
