import type { Connection, Model } from 'mongoose';
import { z } from 'zod';
import type { Actor, AuditLog } from '../back-office/audit-log.js';
import { afterCursor, encodeCursor } from '../back-office/order-lookup.js';
import { notFound, parseInput } from '../back-office/validate.js';
import { GatewayError } from '../errors/gateway-error.js';
import { projectModel, type Project } from '../projects/project-model.js';
import { eventBody, type WebhookEventBody } from './dispatcher.js';
import { refuseUrl, type UrlPolicy } from './url-policy.js';
import { webhookModels, type WebhookAttempt, type WebhookEndpoint, type WebhookEvent, type WebhookModels } from './webhook-models.js';

export interface WebhookAdminOptions {
  policy: UrlPolicy;
  retryForS: number;
}

export interface EndpointView {
  project_id: string;
  url: string;
  status: WebhookEndpoint['status'];
  created_at: string;
  updated_at: string;
}

export interface EventLogView {
  event: WebhookEventBody;
  status: WebhookEvent['status'];
  attempts: number;
  next_attempt_at: string | null;
  retry_until: string;
  delivered_at: string | null;
  last_error: string | null;
}

export interface AttemptView {
  attempt: number;
  url: string;
  started_at: string;
  duration_ms: number;
  outcome: WebhookAttempt['outcome'];
  http_status: number | null;
  error: string | null;
}

export const endpointSchema = z.object({ url: z.string().min(1).max(2048) }).strict();
export const eventsQuery = z
  .object({
    status: z.enum(['pending', 'delivered', 'failed']).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().max(200).optional(),
  })
  .strict();

/**
 * Staff's side of webhooks: a project's endpoint, its delivery log (events with their attempts),
 * and redelivery. Every change is audited; the admin API and `npm run admin` call these.
 */
export class WebhookAdmin {
  private readonly models: WebhookModels;
  private readonly projects: Model<Project>;

  constructor(
    connection: Connection,
    private readonly audit: AuditLog,
    private readonly options: WebhookAdminOptions,
  ) {
    this.models = webhookModels(connection);
    this.projects = projectModel(connection);
  }

  async setEndpoint(actor: Actor, projectId: string, input: unknown): Promise<EndpointView> {
    const { url } = parseInput(endpointSchema, input);
    const refused = refuseUrl(url, this.options.policy);
    if (refused) throw new GatewayError('webhook_url_refused', undefined, { issues: [{ path: 'url', message: refused }] });
    await this.project(projectId);
    return this.audit.run(
      actor,
      { action: 'webhook.set_endpoint', target: `project:${projectId}`, summary: { url } },
      async () => {
        const now = new Date();
        await this.models.endpoints.updateOne(
          { _id: projectId },
          { $set: { url, status: 'active', updated_at: now }, $setOnInsert: { created_at: now } },
          { upsert: true, timestamps: false },
        );
        return this.getEndpoint(projectId);
      },
      (view) => ({ url: view.url }),
    );
  }

  async getEndpoint(projectId: string): Promise<EndpointView> {
    const endpoint = await this.models.endpoints.findById(projectId).lean<WebhookEndpoint>();
    if (!endpoint) throw notFound('Webhook endpoint');
    return { project_id: endpoint._id, url: endpoint.url, status: endpoint.status, created_at: endpoint.created_at.toISOString(), updated_at: endpoint.updated_at.toISOString() };
  }

  /** Stops deliveries (pending events wait, and keep their retry deadline). */
  async disableEndpoint(actor: Actor, projectId: string): Promise<EndpointView> {
    await this.getEndpoint(projectId);
    return this.audit.run(actor, { action: 'webhook.disable_endpoint', target: `project:${projectId}`, summary: {} }, async () => {
      await this.models.endpoints.updateOne({ _id: projectId }, { $set: { status: 'disabled' } });
      return this.getEndpoint(projectId);
    });
  }

  /** The delivery log, newest event first, keyset-paged. */
  async listEvents(projectId: string, query: unknown): Promise<{ events: EventLogView[]; next_cursor: string | null }> {
    const { status, limit, cursor } = parseInput(eventsQuery, query);
    const filter: Record<string, unknown> = { project_id: projectId, ...(status && { status }) };
    if (cursor) filter.$and = afterCursor(cursor);
    const rows = await this.models.events.find(filter).sort({ created_at: -1, _id: -1 }).limit(limit + 1).lean<WebhookEvent[]>();
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return { events: page.map(logView), next_cursor: more ? encodeCursor(page.at(-1)!) : null };
  }

  async getEvent(projectId: string, eventId: string): Promise<EventLogView & { delivery_attempts: AttemptView[] }> {
    const event = await this.event(projectId, eventId);
    const attempts = await this.models.attempts.find({ event_id: eventId }).sort({ attempt: 1 }).lean<WebhookAttempt[]>();
    return {
      ...logView(event),
      delivery_attempts: attempts.map((a) => ({
        attempt: a.attempt,
        url: a.url,
        started_at: a.started_at.toISOString(),
        duration_ms: a.duration_ms,
        outcome: a.outcome,
        http_status: a.http_status ?? null,
        error: a.error ?? null,
      })),
    };
  }

  /** Sends the event again as soon as it is next in its subject's order, with a fresh retry period. */
  async redeliver(actor: Actor, projectId: string, eventId: string): Promise<EventLogView> {
    await this.event(projectId, eventId);
    return this.audit.run(actor, { action: 'webhook.redeliver', target: `webhook_event:${eventId}`, summary: { project_id: projectId } }, async () => {
      const now = new Date();
      await this.models.events.updateOne(
        { _id: eventId, project_id: projectId },
        { $set: { status: 'pending', next_attempt_at: now, retry_until: new Date(now.getTime() + this.options.retryForS * 1000) } },
      );
      return logView(await this.event(projectId, eventId));
    });
  }

  private async event(projectId: string, eventId: string): Promise<WebhookEvent> {
    const event = await this.models.events.findOne({ _id: eventId, project_id: projectId }).lean<WebhookEvent>();
    if (!event) throw notFound('Webhook event');
    return event;
  }

  private async project(projectId: string): Promise<void> {
    if (!(await this.projects.exists({ _id: projectId }))) throw notFound('Project');
  }
}

function logView(event: WebhookEvent): EventLogView {
  return {
    event: eventBody(event),
    status: event.status,
    attempts: event.attempts,
    next_attempt_at: event.status === 'pending' ? event.next_attempt_at.toISOString() : null,
    retry_until: event.retry_until.toISOString(),
    delivered_at: event.delivered_at?.toISOString() ?? null,
    last_error: event.last_error ?? null,
  };
}
