import { Router, type Request, type RequestHandler } from 'express';
import type { Connection, mongo } from 'mongoose';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { orderModel, UNFINISHED_STATUSES } from '../orders/order-model.js';
import type { CardProvider } from '../provider/card-provider.js';
import { ProviderError } from '../provider/card-provider.js';
import { orderClaimModel } from '../workflow/order-claims.js';
import { queuedOrderModel } from '../workflow/order-queue.js';
import { webhookModels } from '../webhooks/webhook-models.js';

declare module 'express-serve-static-core' {
  interface Locals {
    /** The slug of the error this request was answered with (set by errorBody), for metrics. */
    errorSlug?: string;
  }
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The gateway's Prometheus metrics (`/metrics` on the admin listener). One registry per gateway,
 * so tests that build several gateways in one process never collide; store-call metrics live in a
 * registry per database client (shared by every connection made from it) and are merged in at
 * scrape time.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status' | 'slug'>;
  private readonly latency: Histogram<'method' | 'route' | 'status'>;
  private readonly rateLimited: Counter;
  private readonly replays: Counter;
  readonly providerCalls: Counter<'operation' | 'outcome'>;
  readonly providerLatency: Histogram<'operation'>;
  private readonly store: Registry;

  constructor(connection: Connection, options: { stuckAfterS: number }) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'gateway_http_requests_total',
      help: 'HTTP requests answered, by route pattern, status and error slug ("" when none).',
      labelNames: ['method', 'route', 'status', 'slug'],
      registers,
    });
    this.latency = new Histogram({
      name: 'gateway_http_request_duration_seconds',
      help: 'Time from request to the end of its response.',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.rateLimited = new Counter({ name: 'gateway_rate_limit_refusals_total', help: 'Requests refused with rate_limited.', registers });
    this.replays = new Counter({ name: 'gateway_replays_refused_total', help: 'Requests refused with replay_detected.', registers });
    this.providerCalls = new Counter({
      name: 'gateway_provider_calls_total',
      help: 'Card provider calls by operation and outcome (ok, or the ProviderError failure, or error).',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.providerLatency = new Histogram({
      name: 'gateway_provider_call_duration_seconds',
      help: 'Card provider call latency.',
      labelNames: ['operation'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const orders = orderModel(connection);
    const queue = queuedOrderModel(connection);
    const claims = orderClaimModel(connection);
    new Gauge({
      name: 'gateway_orders',
      help: 'Stored orders by status and issue_status (counted at scrape time).',
      labelNames: ['status', 'issue_status'],
      registers,
      async collect() {
        this.reset();
        const groups = await orders.aggregate<{ _id: { status: string; issue_status?: string | null }; n: number }>([
          { $group: { _id: { status: '$status', issue_status: '$issue_status' }, n: { $sum: 1 } } },
        ]);
        for (const g of groups) this.set({ status: g._id.status, issue_status: g._id.issue_status ?? '' }, g.n);
      },
    });
    new Gauge({
      name: 'gateway_worker_queue',
      help: 'Unfinished card-issue orders in the worker queue; state="due" are due now.',
      labelNames: ['state'],
      registers,
      async collect() {
        const now = new Date();
        const [total, due] = await Promise.all([queue.estimatedDocumentCount(), queue.countDocuments({ due_at: { $lte: now } })]);
        this.set({ state: 'queued' }, total);
        this.set({ state: 'due' }, due);
      },
    });
    new Gauge({
      name: 'gateway_worker_leases_held',
      help: 'Order claims (leases) not yet expired.',
      registers,
      async collect() {
        this.set(await claims.countDocuments({ expires_at: { $gt: new Date() } }));
      },
    });
    new Gauge({
      name: 'gateway_unfinished_orders',
      help: 'Orders not in a terminal status.',
      registers,
      async collect() {
        // `$in` of the unfinished statuses, not `$nin` of the terminal ones: an index count, not a read of every order.
        this.set(await orders.countDocuments({ status: { $in: [...UNFINISHED_STATUSES] } }));
      },
    });
    new Gauge({
      name: 'gateway_stuck_orders',
      help: 'Unfinished orders without progress for STUCK_ORDER_AFTER_S: what reconciliation reports as stuck_order.',
      registers,
      async collect() {
        const before = new Date(Date.now() - options.stuckAfterS * 1000);
        this.set(await orders.countDocuments({ status: { $in: [...UNFINISHED_STATUSES] }, updated_at: { $lt: before } }));
      },
    });
    const { events } = webhookModels(connection);
    new Gauge({
      name: 'gateway_webhook_events',
      help: 'Webhook events to partners waiting for delivery (pending) and given up after WEBHOOK_RETRY_FOR_S (failed).',
      labelNames: ['status'],
      registers,
      async collect() {
        const [pending, failed] = await Promise.all([events.countDocuments({ status: 'pending' }), events.countDocuments({ status: 'failed' })]);
        this.set({ status: 'pending' }, pending);
        this.set({ status: 'failed' }, failed);
      },
    });
    new Gauge({
      name: 'gateway_webhook_oldest_due_seconds',
      help: 'How long the earliest due webhook event has been waiting for its attempt (0 when none is due): the dispatcher falling behind.',
      registers,
      async collect() {
        const now = new Date();
        const oldest = await events
          .findOne({ status: 'pending', next_attempt_at: { $lte: now } }, { next_attempt_at: 1 })
          .sort({ next_attempt_at: 1 })
          .lean<{ next_attempt_at: Date }>();
        this.set(oldest ? (now.getTime() - oldest.next_attempt_at.getTime()) / 1000 : 0);
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'gateway_process_' });
    this.store = storeMetrics(connection.getClient());
  }

  /** Counts every request once its response is finished; mount first on every listener. */
  readonly http: RequestHandler = (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = routeOf(req);
      const status = String(res.statusCode);
      const slug = res.locals.errorSlug ?? '';
      this.requests.inc({ method: req.method, route, status, slug });
      this.latency.observe({ method: req.method, route, status }, Number(process.hrtime.bigint() - started) / 1e9);
      if (slug === 'rate_limited') this.rateLimited.inc();
      if (slug === 'replay_detected') this.replays.inc();
    });
    next();
  };

  /** `GET /` (mounted at /metrics) in the Prometheus text format. */
  router(): Router {
    const router = Router();
    router.get('/', async (_req, res) => {
      const merged = Registry.merge([this.registry, this.store]);
      res.setHeader('Content-Type', merged.contentType);
      res.setHeader('Cache-Control', 'no-store');
      res.send(await merged.metrics());
    });
    return router;
  }

  /** Wraps a card provider so every call is timed and counted; the provider itself is untouched. */
  decorate(provider: CardProvider): CardProvider {
    const timed = <A extends unknown[], R>(operation: string, call: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        const end = this.providerLatency.startTimer({ operation });
        try {
          const result = await call(...args);
          this.providerCalls.inc({ operation, outcome: 'ok' });
          return result;
        } catch (err) {
          this.providerCalls.inc({ operation, outcome: err instanceof ProviderError ? err.failure : 'error' });
          throw err;
        } finally {
          end();
        }
      };
    return {
      createCard: timed('createCard', (r) => provider.createCard(r)),
      getCard: timed('getCard', (id) => provider.getCard(id)),
      topUp: timed('topUp', (r) => provider.topUp(r)),
      verifyTopUp: timed('verifyTopUp', (cardId, topUpId) => provider.verifyTopUp(cardId, topUpId)),
      readCardSecrets: timed('readCardSecrets', (id) => provider.readCardSecrets(id)),
      createAccount: timed('createAccount', (r) => provider.createAccount(r)),
      getAccount: timed('getAccount', (id) => provider.getAccount(id)),
      listCards: timed('listCards', (q) => provider.listCards(q)),
      deactivate: timed('deactivate', (r) => provider.deactivate(r)),
      activate: timed('activate', (r) => provider.activate(r)),
      terminate: timed('terminate', (r) => provider.terminate(r)),
      withdraw: timed('withdraw', (r) => provider.withdraw(r)),
    };
  }
}

/** The route pattern, never the raw path: ids in paths would make a label per order. */
function routeOf(req: Request): string {
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof pattern === 'string') return `${req.baseUrl}${pattern}`;
  return 'unmatched';
}

const storeRegistries = new WeakMap<mongo.MongoClient, Registry>();

/**
 * Store call latency and errors from the driver's command monitoring (the client is opened with
 * monitorCommands in src/store/database.ts): no store call site needs to know about metrics.
 */
function storeMetrics(client: mongo.MongoClient): Registry {
  const existing = storeRegistries.get(client);
  if (existing) return existing;
  const registry = new Registry();
  const registers = [registry];
  const calls = new Counter({ name: 'gateway_store_commands_total', help: 'Store commands by name and outcome.', labelNames: ['command', 'outcome'], registers });
  const latency = new Histogram({
    name: 'gateway_store_command_duration_seconds',
    help: 'Store command latency.',
    labelNames: ['command'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const record = (outcome: 'ok' | 'error') => (event: mongo.CommandSucceededEvent | mongo.CommandFailedEvent) => {
    calls.inc({ command: event.commandName, outcome });
    latency.observe({ command: event.commandName }, event.duration / 1000);
  };
  client.on('commandSucceeded', record('ok'));
  client.on('commandFailed', record('error'));
  storeRegistries.set(client, registry);
  return registry;
}
