import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Connection, Model } from 'mongoose';
import type { Logger } from '../logging/logger.js';
import { projectModel, type Project } from '../projects/project-model.js';
import type { OutboundSealer } from '../secure/outbound-seal.js';
import { isDuplicateKeyError } from '../store/duplicate-key.js';
import { AddressRefusedError, checkedLookup, isNonPublicAddress, type UrlPolicy } from './url-policy.js';
import { webhookModels, type AttemptOutcome, type WebhookEvent, type WebhookModels } from './webhook-models.js';

export interface DispatcherOptions {
  pollMs: number;
  timeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  concurrency: number;
  policy: UrlPolicy;
}

/** What a partner's endpoint receives, sealed as an outbound message (`kind: webhook_event`): `{event: WebhookEventBody}`. */
export interface WebhookEventBody {
  id: string;
  type: string;
  project_id: string;
  subject: { type: string; id: string };
  sequence: number;
  created_at: string;
  data: Record<string, unknown>;
}

export function eventBody(event: WebhookEvent): WebhookEventBody {
  return {
    id: event._id,
    type: event.type,
    project_id: event.project_id,
    subject: { type: event.subject_type, id: event.subject_id },
    sequence: event.sequence,
    created_at: event.created_at.toISOString(),
    data: event.data,
  };
}

interface PostResult {
  outcome: AttemptOutcome;
  httpStatus?: number;
  error?: string;
}

class DeliveryTimeout extends Error {}

/**
 * Delivers pending events: at least once, in order per subject (an event waits while an earlier
 * event of its order is still pending), retried with exponential backoff until its retry_until.
 * Every attempt is stored. Several processes may dispatch: a duplicate is possible, a loss is not
 * (an event leaves `pending` only after a 2xx or at its retry_until).
 */
export class WebhookDispatcher {
  private readonly models: WebhookModels;
  private readonly projects: Model<Project>;
  private readonly inFlight = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private ticking: Promise<void> | undefined;
  private readonly deliveries = new Set<Promise<void>>();

  constructor(
    connection: Connection,
    private readonly sealer: OutboundSealer,
    private readonly options: DispatcherOptions,
    private readonly logger: Logger,
    /** Called before each poll (the outbox scan). */
    private readonly beforePoll: () => Promise<unknown> = () => Promise.resolve(),
  ) {
    this.models = webhookModels(connection);
    this.projects = projectModel(connection);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.ticking;
    await Promise.allSettled([...this.deliveries]);
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.ticking = this.tick()
        .catch((err: unknown) => {
          this.logger.error('webhook dispatch failed', { error: err instanceof Error ? err.message : String(err) });
        })
        .finally(() => {
          this.ticking = undefined;
          this.schedule(this.options.pollMs);
        });
    }, ms);
  }

  /** One poll: scan for new events, then start the due ones that are next in their subject's order. */
  async tick(): Promise<void> {
    await this.beforePoll();
    const free = this.options.concurrency - this.inFlight.size;
    if (free <= 0) return;
    // Read while these were in flight, their rows below are stale (the attempt count above all):
    // one that finishes during this poll is looked at again by the next one.
    const busy = new Set(this.inFlight);
    const due = await this.models.events
      .find({ status: 'pending', next_attempt_at: { $lte: new Date() } })
      .sort({ next_attempt_at: 1, _id: 1 })
      .limit(this.options.concurrency * 4)
      .lean<WebhookEvent[]>();
    let started = 0;
    const subjects = new Set<string>();
    for (const event of due) {
      if (started >= free) break;
      if (busy.has(event._id) || this.inFlight.has(event._id) || subjects.has(event.subject_id)) continue;
      const earlier = await this.models.events
        .findOne({ project_id: event.project_id, subject_id: event.subject_id, sequence: { $lt: event.sequence }, status: 'pending' }, { next_attempt_at: 1 })
        .sort({ sequence: 1 })
        .lean<Pick<WebhookEvent, '_id' | 'next_attempt_at'>>();
      if (earlier) {
        // Waits for its predecessor: due no earlier than it, so blocked events do not crowd the
        // head of the due list and starve the events they wait for.
        await this.models.events.updateOne({ _id: event._id, status: 'pending' }, { $set: { next_attempt_at: earlier.next_attempt_at } });
        continue;
      }
      subjects.add(event.subject_id);
      this.inFlight.add(event._id);
      started++;
      const delivery = this.deliverCurrent(event._id)
        .catch((err: unknown) => {
          this.logger.error('webhook delivery failed', { event_id: event._id, error: err instanceof Error ? err.message : String(err) });
        })
        .finally(() => {
          this.inFlight.delete(event._id);
          this.deliveries.delete(delivery);
          // The subject's next event may go now rather than at the next poll.
          if (this.running && !this.ticking) this.schedule(0);
        });
      this.deliveries.add(delivery);
    }
  }

  /**
   * Delivers the event as stored now: the due list was read before this poll's other queries, and
   * another process may have delivered or retried the event meanwhile. Its attempt number comes
   * from this read, so two attempts of one process never share a number.
   */
  private async deliverCurrent(eventId: string): Promise<void> {
    const event = await this.models.events.findById(eventId).lean<WebhookEvent>();
    if (!event || event.status !== 'pending' || event.next_attempt_at > new Date()) return;
    await this.deliver(event);
  }

  private async deliver(event: WebhookEvent): Promise<void> {
    const endpoint = await this.models.endpoints.findById(event.project_id).lean();
    const attempt = event.attempts + 1;
    const startedAt = new Date();
    let result: PostResult;
    if (!endpoint || endpoint.status !== 'active') {
      result = { outcome: 'network_error', error: 'no active endpoint' };
    } else {
      // Sealed at each attempt: its `iat` is the attempt's, so a retry is never refused as old.
      const project = await this.projects.findById(event.project_id, { encryption_keys: 1 }).lean<Pick<Project, '_id' | 'encryption_keys'>>();
      const token = project ? await this.sealer.seal(project, 'webhook_event', { event: eventBody(event) }) : undefined;
      if (!token) {
        result = { outcome: 'no_key', error: 'the project has no usable encryption key' };
      } else {
        result = await this.post(endpoint.url, token, event, attempt);
      }
    }
    const finishedAt = new Date();
    try {
      await this.models.attempts.collection.insertOne({
        _id: `${event._id}:${attempt}`,
        event_id: event._id,
        project_id: event.project_id,
        attempt,
        url: endpoint?.url ?? '',
        started_at: startedAt,
        duration_ms: finishedAt.getTime() - startedAt.getTime(),
        outcome: result.outcome,
        ...(result.httpStatus !== undefined && { http_status: result.httpStatus }),
        ...(result.error !== undefined && { error: result.error }),
      } as never);
    } catch (err) {
      // Another process made the same attempt number of a duplicate delivery: its record stands.
      if (!isDuplicateKeyError(err)) throw err;
    }
    if (result.outcome === 'delivered') {
      await this.models.events.updateOne({ _id: event._id }, { $set: { status: 'delivered', delivered_at: finishedAt, attempts: attempt }, $unset: { last_error: 1 } });
      return;
    }
    const backoff = Math.min(this.options.retryBaseMs * 2 ** (attempt - 1), this.options.retryMaxMs);
    const next = new Date(finishedAt.getTime() + backoff / 2 + Math.random() * (backoff / 2));
    const giveUp = next > event.retry_until;
    const error = result.error ?? result.outcome;
    this.logger.info('webhook attempt failed', { event_id: event._id, attempt, outcome: result.outcome, http_status: result.httpStatus, gave_up: giveUp });
    await this.models.events.updateOne(
      { _id: event._id },
      { $set: { attempts: attempt, last_error: error, next_attempt_at: giveUp ? event.retry_until : next, ...(giveUp && { status: 'failed' }) } },
    );
  }

  private post(rawUrl: string, token: string, event: WebhookEvent, attempt: number): Promise<PostResult> {
    const url = new URL(rawUrl);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // Node connects to an address literal without a lookup: check it here.
    if (!this.options.policy.allowPrivate && (url.protocol !== 'https:' || (isIP(host) && isNonPublicAddress(host)))) {
      return Promise.resolve({ outcome: 'address_refused', error: 'the URL is not allowed (https to a public address only)' });
    }
    const client = url.protocol === 'https:' ? https : http;
    return new Promise<PostResult>((resolve) => {
      const request = client.request(
        url,
        {
          method: 'POST',
          headers: {
            'Content-Type': 'application/jose',
            'Content-Length': Buffer.byteLength(token),
            'Webhook-Id': event._id,
            'Webhook-Type': event.type,
            'Webhook-Attempt': String(attempt),
          },
          lookup: checkedLookup(this.options.policy),
          agent: false,
        },
        (response) => {
          response.resume(); // the answer's body is not read, only its status
          const status = response.statusCode ?? 0;
          clearTimeout(timer);
          resolve(status >= 200 && status < 300 ? { outcome: 'delivered', httpStatus: status } : { outcome: 'http_error', httpStatus: status, error: `answered ${status}` });
        },
      );
      const timer = setTimeout(() => request.destroy(new DeliveryTimeout()), this.options.timeoutMs);
      request.on('error', (err) => {
        clearTimeout(timer);
        if (err instanceof DeliveryTimeout) resolve({ outcome: 'timeout', error: `no answer within ${this.options.timeoutMs} ms` });
        else if (err instanceof AddressRefusedError) resolve({ outcome: 'address_refused', error: err.message });
        else resolve({ outcome: 'network_error', error: (err as NodeJS.ErrnoException).code ?? 'connection failed' });
      });
      request.end(token);
    });
  }
}
