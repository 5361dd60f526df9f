import type { Connection, Model } from 'mongoose';
import { z } from 'zod';
import { cardholderModel, findCardholder, type Cardholder, type VerificationStatus } from '../cardholders/cardholder-model.js';
import { GatewayError } from '../errors/gateway-error.js';
import { cardholderIdFor } from '../ids/ids.js';
import { projectModel, type Project } from '../projects/project-model.js';
import { isDuplicateKeyError } from '../store/duplicate-key.js';
import { announceStaffChange } from '../store/change-notices.js';
import type { Actor, AuditLog } from './audit-log.js';
import { notFound, parseInput } from './validate.js';

export interface CardholderView {
  cardholder_id: string;
  project_id: string;
  external_user_id: string;
  verification_status: VerificationStatus;
  first_name: string | null;
  last_name: string | null;
  created_at: string;
  updated_at: string;
}

const STATUSES = ['pending', 'verified', 'rejected'] as const;
const name = z.string().trim().min(1).max(100);

export const createSchema = z
  .object({
    external_user_id: z.string().min(1).max(200),
    verification_status: z.enum(STATUSES).default('pending'),
    first_name: name.optional(),
    last_name: name.optional(),
  })
  .strict();

export const statusSchema = z.object({ verification_status: z.enum(STATUSES) }).strict();

/** Cardholders (a partner's end users) as staff manage them; only verified ones get cards. */
export class CardholdersAdmin {
  private readonly cardholders: Model<Cardholder>;
  private readonly projects: Model<Project>;

  constructor(
    private readonly connection: Connection,
    private readonly audit: AuditLog,
  ) {
    this.cardholders = cardholderModel(connection);
    this.projects = projectModel(connection);
  }

  async list(projectId: string, limit = 100): Promise<CardholderView[]> {
    const rows = await this.cardholders
      .find({ project_id: projectId })
      .sort({ external_user_id: 1 })
      .limit(Math.min(Math.max(limit, 1), 1000))
      .lean<Cardholder[]>();
    return rows.map(cardholderView);
  }

  async get(projectId: string, externalUserId: string): Promise<CardholderView> {
    return cardholderView(await this.load(projectId, externalUserId));
  }

  async create(actor: Actor, projectId: string, input: unknown): Promise<CardholderView> {
    const body = parseInput(createSchema, input);
    if (!(await this.projects.exists({ _id: projectId }))) throw notFound('Project');
    const id = cardholderIdFor(projectId, body.external_user_id);
    return this.audit.run(
      actor,
      {
        action: 'cardholder.create',
        target: `cardholder:${projectId}/${body.external_user_id}`,
        // Names are personal data: the audit log records that they were given, not what they are.
        summary: { external_user_id: body.external_user_id, verification_status: body.verification_status, has_name: Boolean(body.first_name ?? body.last_name) },
      },
      async () => {
        const now = new Date();
        try {
          await this.cardholders.collection.insertOne({
            _id: id,
            project_id: projectId,
            external_user_id: body.external_user_id,
            verification_status: body.verification_status,
            ...verdictTime(body.verification_status, now),
            ...(body.first_name && { first_name: body.first_name }),
            ...(body.last_name && { last_name: body.last_name }),
            created_at: now,
            updated_at: now,
          } satisfies Cardholder as never);
        } catch (err) {
          if (isDuplicateKeyError(err)) throw new GatewayError('conflict', 'The project already has a cardholder with this external_user_id.');
          throw err;
        }
        return this.get(projectId, body.external_user_id);
      },
      (view) => ({ cardholder_id: view.cardholder_id }),
    );
  }

  async setVerification(actor: Actor, projectId: string, externalUserId: string, input: unknown): Promise<CardholderView> {
    const { verification_status } = parseInput(statusSchema, input);
    const current = await this.load(projectId, externalUserId);
    return this.audit.run(
      actor,
      {
        action: 'cardholder.verification',
        target: `cardholder:${projectId}/${externalUserId}`,
        summary: { from: current.verification_status, to: verification_status },
      },
      async () => {
        const now = new Date();
        // The verdict's time only when it changes: partners receive a cardholder event per verdict.
        const changed = verification_status !== current.verification_status;
        await this.cardholders.updateOne({ _id: current._id }, { $set: { verification_status, ...(changed && verdictTime(verification_status, now)), updated_at: now } });
        announceStaffChange(this.connection, 'cardholder', current._id);
        return this.get(projectId, externalUserId);
      },
    );
  }

  private async load(projectId: string, externalUserId: string): Promise<Cardholder> {
    const cardholder = await findCardholder(this.cardholders, projectId, externalUserId);
    if (!cardholder) throw notFound('Cardholder');
    return cardholder;
  }
}

/** When a cardholder became verified or rejected (what its webhook event is dated by). */
function verdictTime(status: VerificationStatus, at: Date): Pick<Cardholder, 'verified_at' | 'rejected_at'> {
  if (status === 'verified') return { verified_at: at };
  if (status === 'rejected') return { rejected_at: at };
  return {};
}

function cardholderView(c: Cardholder): CardholderView {
  return {
    cardholder_id: c._id,
    project_id: c.project_id,
    external_user_id: c.external_user_id,
    verification_status: c.verification_status,
    first_name: c.first_name ?? null,
    last_name: c.last_name ?? null,
    created_at: c.created_at.toISOString(),
    updated_at: c.updated_at.toISOString(),
  };
}
