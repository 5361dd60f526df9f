import type { Connection, Model } from 'mongoose';
import type { Logger } from '../logging/logger.js';
import { orderModel, type Order } from '../orders/order-model.js';
import type { OrderWorkflow } from './workflow-registry.js';
import type { Lease, OrderClaims } from './order-claims.js';
import type { OrderQueue } from './order-queue.js';

export interface WorkerOptions {
  pollMs: number;
  concurrency: number;
}

const DUE_BATCH = 50;
/**
 * An order whose step threw something the workflow does not expect (a bug, a store error, a card
 * the provider has lost) is looked at again after this long: left due where it was, a few such
 * orders at the head of the queue would fill every poll's batch and starve every order behind them.
 */
const UNEXPECTED_FAILURE_RETRY_MS = 30_000;
/** Orders handed over by requests and not started yet; past this the poll finds the rest. */
const READY_LIMIT = 1000;

/**
 * Drives due orders through the workflow. An order reaches it two ways: handed over by the request
 * that charged it (started at once, no poll), or found in the order queue by the poll (every
 * pollMs: orders of other processes, retries that came due, anything a crash left). Several
 * workers (in several processes) may see the same order: the claim decides who works on it, and a
 * worker keeps going on an order for as long as it has steps to take now, renewing its lease
 * between steps.
 */
export class IssuanceWorker {
  private readonly orders: Model<Order>;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly ready = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopping = false;
  private polling: Promise<void> | undefined;
  private pollAgain = false;
  /** The last poll left due orders behind for want of a free slot: poll again when one frees. */
  private backlog = false;

  constructor(
    connection: Connection,
    private readonly workflow: OrderWorkflow,
    private readonly claims: OrderClaims,
    private readonly queue: OrderQueue,
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
    this.queue
      .recover()
      .then((added) => {
        if (added > 0) this.logger.info('queued unfinished orders that had no queue entry', { added });
      })
      .catch((err: unknown) => this.logger.error('order queue recovery failed', { error: err }));
  }

  /** Stops polling and waits for the steps in flight (each ends at a persisted state). */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    clearTimeout(this.timer);
    this.ready.clear();
    await this.polling;
    await Promise.allSettled(this.inFlight.values());
  }

  /**
   * An order just became due, charged by a request under `lease`. With a slot free the worker
   * starts it now under that lease, from the order as the charge left it (no claim, no read of its
   * own) and returns true: the lease is the worker's now. Otherwise it returns false (the caller
   * releases the lease) and the order waits for a slot here, or beyond READY_LIMIT for the poll.
   */
  handOff(order: Order, lease: Lease): boolean {
    if (!this.running) return false;
    if (this.inFlight.size < this.options.concurrency && !this.inFlight.has(order._id)) {
      this.launch(order._id, lease, order);
      return true;
    }
    if (this.ready.size < READY_LIMIT) this.ready.add(order._id);
    return false;
  }

  /**
   * One poll: claims due orders up to the free concurrency and starts them; returns how many.
   * `exclude` names orders not to start again (drain uses it so a waiting order runs once).
   */
  async pollOnce(exclude?: Set<string>): Promise<number> {
    const free = this.options.concurrency - this.inFlight.size;
    if (free <= 0) {
      this.backlog = true;
      return 0;
    }
    const due = await this.queue.due(DUE_BATCH);
    this.backlog = false;
    let started = 0;
    // Shuffled so that workers in other processes polling the same list start elsewhere.
    for (const { _id } of shuffle(due)) {
      if (this.inFlight.size >= this.options.concurrency) {
        this.backlog = true;
        break;
      }
      if (this.inFlight.has(_id) || exclude?.has(_id)) continue;
      const lease = await this.claims.tryClaim(_id);
      if (!lease) continue;
      exclude?.add(_id);
      started++;
      this.launch(_id, lease);
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

  /** Starts handed-over orders while slots are free (claiming first: someone else may hold one). */
  private startReady(): void {
    for (const orderId of this.ready) {
      if (this.inFlight.size >= this.options.concurrency) return;
      this.ready.delete(orderId);
      if (!this.inFlight.has(orderId)) this.launch(orderId);
    }
  }

  /**
   * Runs an order in a slot; without a lease, claims it first and leaves it if that fails.
   * `order`: the order as the lease holder last wrote it, when known.
   */
  private launch(orderId: string, lease?: Lease, order?: Order): void {
    this.ready.delete(orderId);
    const run = (async () => {
      const held = lease ?? (await this.claims.tryClaim(orderId));
      if (held) await this.drive(orderId, held, order);
    })()
      .catch((err: unknown) => {
        this.logger.error('could not start an order; the poll retries it', { order_id: orderId, error: err });
      })
      .finally(() => {
        this.inFlight.delete(orderId);
        if (this.ready.size > 0) this.startReady();
        else if (this.backlog) this.schedule(0);
      });
    this.inFlight.set(orderId, run);
  }

  /** Steps the order while it has steps to take now. `known`: the order as the lease holder left it. */
  private async drive(orderId: string, lease: Lease, known?: Order): Promise<void> {
    let forgotten = false;
    try {
      for (;;) {
        // The order as the last step left it, or else as stored.
        const order = known ?? (await this.orders.findById(orderId).lean<Order>());
        if (!order) {
          await this.queue.dropIfOrphan(orderId);
          return;
        }
        const { next: result, order: after } = await this.workflow.step(order);
        known = after;
        if (result === 'done') {
          forgotten = true; // its claims are deleted: nothing left to release
          await this.claims.forget(orderId);
          await this.queue.remove(orderId);
          return;
        }
        if (result === 'wait') {
          // Due again when the workflow says: this process's poll, or another's, takes it then.
          const waiting = await this.orders.findById(orderId, { next_attempt_at: 1 }).lean<Pick<Order, 'next_attempt_at'>>();
          if (waiting?.next_attempt_at) await this.queue.reschedule(orderId, waiting.next_attempt_at);
          return;
        }
        if (this.stopping) return;
        if (!(await lease.renew())) {
          this.logger.warn('lease lost; leaving the order to its new holder', { order_id: orderId });
          return;
        }
      }
    } catch (err) {
      this.logger.error('order step failed unexpectedly; it is retried later', { order_id: orderId, error: err, retry_in_ms: UNEXPECTED_FAILURE_RETRY_MS });
      await this.queue.reschedule(orderId, new Date(Date.now() + UNEXPECTED_FAILURE_RETRY_MS)).catch(() => undefined);
    } finally {
      if (!forgotten) await lease.release().catch(() => undefined);
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
