import { randomUUID } from 'node:crypto';
import { Schema, type Connection, type Model } from 'mongoose';
import { GatewayError } from '../errors/gateway-error.js';
import { redact } from '../logging/redact.js';

/**
 * Who changes something through the back office, and through which door. Staff reach the admin
 * API with a named token; scripts run as the operating-system user (or `--as NAME`).
 */
export interface Actor {
  staff: string;
  via: 'admin_api' | 'console' | 'cli' | 'system';
  requestId: string;
}

export type AuditOutcome = 'pending' | 'applied' | 'failed';

export interface AuditEntry {
  _id: string;
  staff: string;
  via: Actor['via'];
  /** e.g. `project.create`, `project.fund`, `product.update`. */
  action: string;
  /** e.g. `project:prj_…`, `product:VIRTUAL_USD`. */
  target: string;
  /** What was asked and what it did, redacted like a log line. */
  summary: Record<string, unknown>;
  /** What the change produced (ids, balances), redacted; set once applied. */
  result?: Record<string, unknown>;
  request_id: string;
  outcome: AuditOutcome;
  error_slug?: string;
  created_at: Date;
  completed_at?: Date;
}

const auditSchema = new Schema<AuditEntry>(
  {
    _id: { type: String, required: true },
    staff: { type: String, required: true },
    via: { type: String, required: true },
    action: { type: String, required: true },
    target: { type: String, required: true },
    summary: { type: Schema.Types.Mixed, required: true, default: {} },
    result: { type: Schema.Types.Mixed },
    request_id: { type: String, required: true },
    outcome: { type: String, enum: ['pending', 'applied', 'failed'], required: true },
    error_slug: { type: String },
    created_at: { type: Date, required: true },
    completed_at: { type: Date },
  },
  { versionKey: false, minimize: false },
);
// "What happened to this project / product?" and "what did this person do?", newest first.
// With _id last, as the list sorts: the embedded store then walks the index instead of sorting.
auditSchema.index({ target: 1, created_at: -1, _id: -1 });
auditSchema.index({ staff: 1, created_at: -1, _id: -1 });
auditSchema.index({ created_at: -1, _id: -1 });

export function auditLogModel(connection: Connection): Model<AuditEntry> {
  return (
    (connection.models.AuditEntry as Model<AuditEntry> | undefined) ??
    connection.model<AuditEntry>('AuditEntry', auditSchema, 'audit_log')
  );
}

export interface AuditedChange {
  action: string;
  target: string;
  summary: Record<string, unknown>;
}

/**
 * The audit trail of every back-office change. Write-ahead: the entry is stored (as `pending`)
 * before the change runs, so a change can never happen unrecorded; if that first write fails the
 * change is not attempted. Afterwards the entry is marked `applied` (with what the change
 * returned) or `failed` (with the slug). A failure to record the outcome fails the request too:
 * the caller must not be told "done" by a system that could not write down that it was done.
 */
export class AuditLog {
  private readonly entries: Model<AuditEntry>;

  constructor(connection: Connection) {
    this.entries = auditLogModel(connection);
  }

  async run<T>(actor: Actor, change: AuditedChange, apply: () => Promise<T>, describe: (result: T) => Record<string, unknown> = () => ({})): Promise<T> {
    const id = randomUUID();
    await this.entries.collection.insertOne({
      _id: id,
      staff: actor.staff,
      via: actor.via,
      action: change.action,
      target: change.target,
      summary: redact(change.summary) as Record<string, unknown>,
      request_id: actor.requestId,
      outcome: 'pending',
      created_at: new Date(),
    } satisfies AuditEntry as never);

    let result: T;
    try {
      result = await apply();
    } catch (err) {
      const slug = err instanceof GatewayError ? err.slug : 'internal_error';
      // The request fails either way; if even this write fails the entry stays `pending`, and the
      // caller hears about the change's own error, which is the one that matters.
      await this.entries
        .updateOne({ _id: id }, { $set: { outcome: 'failed', error_slug: slug, completed_at: new Date() } })
        .catch(() => undefined);
      throw err;
    }
    const outcome = redact(describe(result)) as Record<string, unknown>;
    await this.entries.updateOne({ _id: id }, { $set: { outcome: 'applied', result: outcome, completed_at: new Date() } });
    return result;
  }

  /** Newest first; for the admin API and `npm run admin -- audit`. */
  async list(filter: { target?: string; staff?: string; limit?: number }): Promise<AuditEntry[]> {
    const query: Record<string, string> = {};
    if (filter.target) query.target = filter.target;
    if (filter.staff) query.staff = filter.staff;
    return this.entries
      .find(query)
      .sort({ created_at: -1, _id: -1 })
      .limit(Math.min(Math.max(filter.limit ?? 50, 1), 500))
      .lean<AuditEntry[]>();
  }
}
