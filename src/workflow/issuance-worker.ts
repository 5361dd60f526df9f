import type { Connection, Model } from 'mongoose';
import type { Logger } from '../logging/logger.js';
import { orderModel, type Order } from '../orders/order-model.js';
import type { IssuanceWorkflow } from './issuance-workflow.js';
import type { Lease, OrderClaims } from './order-claims.js';

export interface WorkerOptions {
  pollMs: number;
  concurrency: number;
}

const DUE_BATCH = 50;

/**
 * Drives due orders through the workflow. Several workers (in several processes) may poll the
 * same orders: the claim decides who works on one, and a worker keeps going on an order for as
 * long as it has steps to take now, renewing its lease between steps.
 */
export class IssuanceWorker {
  private readonly orders: Model<Order>;
  private readonly inFlight = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopping = false;
  private polling: Promise<void> | undefined;
  private pollAgain = false;

  constructor(
    connection: Connection,
    private readonly workflow: IssuanceWorkflow,
    private readonly claims: OrderClaims,
    private readonly logger: Logger,
    private readonly options: WorkerOptions,
  ) {
    this.orders = orderModel(connection);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.schedule(0);
  }

  /** Stops polling and waits for the steps in flight (each ends at a persisted state). */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    clearTimeout(this.timer);
    await this.polling;
    await Promise.allSettled(this.inFlight.values());
  }

  /** An order just became due (e.g. charged by a request): poll now rather than at the next tick. */
  nudge(): void {
    if (this.running) this.schedule(0);
  }

  /**
   * One poll: claims due orders up to the free concurrency and starts them; returns how many.
   * `exclude` names orders not to start again (drain uses it so a waiting order runs once).
   */
  async pollOnce(exclude?: Set<string>): Promise<number> {
    const free = this.options.concurrency - this.inFlight.size;
    if (free <= 0) return 0;
    const due = await this.orders
      .find({ status: { $in: ['new', 'activating', 'processing'] }, next_attempt_at: { $lte: new Date() } }, { _id: 1 })
      .sort({ next_attempt_at: 1 })
      .limit(DUE_BATCH)
      .lean<{ _id: string }[]>();
    let started = 0;
    // Shuffled so that workers in other processes polling the same list start elsewhere.
    for (const { _id } of shuffle(due)) {
      if (this.inFlight.size >= this.options.concurrency) break;
      if (this.inFlight.has(_id) || exclude?.has(_id)) continue;
      const lease = await this.claims.tryClaim(_id);
      if (!lease) continue;
      exclude?.add(_id);
      started++;
      const run = this.drive(_id, lease).finally(() => {
        this.inFlight.delete(_id);
        this.nudge();
      });
      this.inFlight.set(_id, run);
    }
    return started;
  }

  /**
   * Takes one order as far as it can go now, if it is due and nobody else holds it (tests and
   * support scripts use it to push a single order). Returns false when it could not be claimed.
   */
  async runOrder(orderId: string): Promise<boolean> {
    const order = await this.orders.findOne({ _id: orderId, next_attempt_at: { $lte: new Date() } }, { _id: 1 }).lean();
    if (!order) return false;
    const lease = await this.claims.tryClaim(orderId);
    if (!lease) return false;
    await this.drive(orderId, lease);
    return true;
  }

  /** Takes every order due now as far as it can go without waiting; for tests and scripts. */
  async drain(): Promise<void> {
    const driven = new Set<string>();
    while ((await this.pollOnce(driven)) > 0 || this.inFlight.size > 0) {
      await Promise.allSettled(this.inFlight.values());
    }
  }

  private async drive(orderId: string, lease: Lease): Promise<void> {
    try {
      for (;;) {
        const order = await this.orders.findById(orderId).lean<Order>();
        if (!order) return;
        const result = await this.workflow.step(order);
        if (result === 'done') {
          await this.claims.forget(orderId);
          return;
        }
        if (result === 'wait' || this.stopping) return;
        if (!(await lease.renew())) {
          this.logger.warn('lease lost; leaving the order to its new holder', { order_id: orderId });
          return;
        }
      }
    } catch (err) {
      this.logger.error('order step failed unexpectedly; it is retried at the next poll', { order_id: orderId, error: err });
    } finally {
      await lease.release().catch(() => undefined);
    }
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), delayMs);
  }

  private tick(): void {
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = this.pollOnce()
      .then(() => undefined)
      .catch((err: unknown) => {
        this.logger.error('worker poll failed', { error: err });
      })
      .finally(() => {
        this.polling = undefined;
        const again = this.pollAgain;
        this.pollAgain = false;
        this.schedule(again ? 0 : this.options.pollMs);
      });
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
