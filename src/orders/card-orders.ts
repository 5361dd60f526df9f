import type { Connection, Model } from 'mongoose';
import { cardholderModel, findCardholder, type Cardholder } from '../cardholders/cardholder-model.js';
import { GatewayError } from '../errors/gateway-error.js';
import { SLUGS } from '../errors/slugs.js';
import { orderIdFor } from '../ids/ids.js';
import { productModel, type Product } from '../products/product-model.js';
import type { Project } from '../projects/project-model.js';
import { onStaffChange } from '../store/change-notices.js';
import { DuplicateKeyError, insertUnique } from '../store/duplicate-key.js';
import { ReadCache } from '../store/read-cache.js';
import { checkIssuanceRules, createCardBody, IDEMPOTENCY_KEY, validationError, type CreateCardBody } from './create-card-request.js';
import type { Lease } from '../workflow/order-claims.js';
import type { OrderQueue } from '../workflow/order-queue.js';
import type { PausePoints } from '../workflow/pause-point.js';
import type { OrderCharger } from './order-charge.js';
import { orderModel, type Order, type OrderData } from './order-model.js';
import { requestHash } from './request-hash.js';

export interface CreateOutcome {
  order: Order;
  /** 201 for an accepted order, 422 for one refused by a business rule: the same on every replay. */
  status: 201 | 422;
  replayed: boolean;
}

/**
 * The create-card use case (contract section 3): validate in the contract's order, store the
 * order (refused ones too, so support finds them), charge it, answer. One order per
 * (project, idempotency key), whatever the race: the unique index decides, the losers replay.
 */
export class CardOrders {
  private readonly orders: Model<Order>;
  private readonly products: Model<Product>;
  private readonly cardholders: Model<Cardholder>;
  // Products and cardholders as the rules read them, at most `lookupTtlMs` old (staff changes
  // through this process drop them at once): a create reads neither from the store in steady state.
  private readonly productCache: ReadCache<Product>;
  private readonly cardholderCache: ReadCache<Cardholder>;
  private readonly unsubscribe: () => void;

  constructor(
    connection: Connection,
    private readonly charger: OrderCharger,
    private readonly queue: OrderQueue,
    /**
     * Hands a charged order to the worker, so it need not wait for the next poll; true when the
     * worker took the order's lease over with it.
     */
    private readonly onCharged: (order: Order, lease: Lease) => boolean = () => false,
    lookupTtlMs = 0,
    private readonly pauses?: PausePoints,
  ) {
    this.orders = orderModel(connection);
    this.products = productModel(connection);
    this.cardholders = cardholderModel(connection);
    this.productCache = new ReadCache(lookupTtlMs);
    this.cardholderCache = new ReadCache(lookupTtlMs);
    // Changes are rare: a change to one product (or cardholder) drops every copy of that kind.
    this.unsubscribe = onStaffChange(connection, (kind) => {
      if (kind === 'product') this.productCache.clear();
      if (kind === 'cardholder') this.cardholderCache.clear();
    });
  }

  /** Stops listening for staff changes (the gateway's stop). */
  close(): void {
    this.unsubscribe();
  }

  async create(project: Project, body: unknown, idempotencyKey: string | undefined): Promise<CreateOutcome> {
    if (!idempotencyKey) throw new GatewayError('idempotency_key_required');
    if (!IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new GatewayError('validation_error', undefined, {
        issues: [{ path: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters' }],
      });
    }
    const parsed = createCardBody.safeParse(body);
    if (!parsed.success) throw validationError(parsed.error);
    const externalUserId = parsed.data.external_user_id?.trim();
    if (!externalUserId) throw new GatewayError('external_user_id_required');

    const hash = requestHash(body);
    // A replay is found by the order insert's unique _id (derived from the key), not by a read
    // first: a new order, the common case, saves a round trip. A replay then costs the rule reads
    // (cached) and a queue entry the worker drops once it sees the order is already done.
    const request = { ...parsed.data, external_user_id: externalUserId };
    const order = await this.buildOrder(project, request, idempotencyKey, hash);
    // The worker's entry goes first: an accepted order is never stored without one.
    if (!order.rejected) await this.queue.add(order._id, order.next_attempt_at ?? new Date());
    await this.pauses?.at('create', order);
    try {
      await insertUnique('orders', () => this.orders.create(order));
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
      const winner = await this.findByKey(project._id, idempotencyKey);
      if (!winner) throw err;
      return this.replay(winner, hash);
    }
    if (order.rejected) return { order, status: 422, replayed: false };
    await this.pauses?.at('settle', order);
    const settled = await this.charger.settle(order._id, this.onCharged, order);
    return { order: settled, status: settled.rejected ? 422 : 201, replayed: false };
  }

  /**
   * The order of a project's idempotency key. Orders are stored under orderIdFor(project, key), so
   * this is a lookup by _id; an order stored before ids were derived is found by the unique
   * (project_id, idempotency_key) index instead (on the embedded store, a scan).
   */
  async findByKey(projectId: string, idempotencyKey: string): Promise<Order | null> {
    return (
      (await this.findDerived(projectId, idempotencyKey)) ??
      this.orders.findOne({ project_id: projectId, idempotency_key: idempotencyKey }).lean<Order>()
    );
  }

  private async findDerived(projectId: string, idempotencyKey: string): Promise<Order | null> {
    return this.orders.findOne({ _id: orderIdFor(projectId, idempotencyKey), project_id: projectId, idempotency_key: idempotencyKey }).lean<Order>();
  }

  async findById(projectId: string, orderId: string): Promise<Order | null> {
    return this.orders.findOne({ _id: orderId, project_id: projectId }).lean<Order>();
  }

  /** The original answer, with the order as it stands now; its charge is settled first. */
  private async replay(order: Order, hash: string): Promise<CreateOutcome> {
    if (order.request_hash !== hash) throw new GatewayError('idempotency_key_reused');
    const settled = order.order_type === 'card_issue' ? await this.charger.settle(order._id, this.onCharged) : order;
    return { order: settled, status: settled.rejected ? 422 : 201, replayed: true };
  }

  private async buildOrder(project: Project, body: CreateCardBody & { external_user_id: string }, idempotencyKey: string, hash: string): Promise<Order> {
    const [product, cardholder] = await Promise.all([
      body.product_code !== undefined
        ? this.productCache.get(`code:${body.product_code}`, () => this.products.findOne({ product_code: body.product_code }).lean<Product>())
        : this.productCache.get(`id:${body.product_id}`, () => this.products.findOne({ product_id: body.product_id }).lean<Product>()),
      this.cardholderCache.get(`${project._id}\u0000${body.external_user_id}`, () => findCardholder(this.cardholders, project._id, body.external_user_id)),
    ]);
    const check = checkIssuanceRules({ project, body, product, cardholder });

    const data = withoutUndefined<OrderData>({
      product_code: check.product?.product_code ?? body.product_code,
      product_id: check.product?.product_id ?? body.product_id,
      external_user_id: body.external_user_id,
      label: body.label,
      ...(check.ok ? check.amounts : check.amounts),
    });
    const now = new Date();
    const order: Order = {
      _id: orderIdFor(project._id, idempotencyKey),
      project_id: project._id,
      order_type: 'card_issue',
      idempotency_key: idempotencyKey,
      request_hash: hash,
      status: check.ok ? 'new' : 'failed',
      is_issued: false,
      external_user_id: body.external_user_id,
      data,
      rejected: !check.ok,
      attempts: 0,
      created_at: now,
      updated_at: now,
    };
    if (body.external_id !== undefined) order.external_id = body.external_id;
    if (check.ok) {
      order.next_attempt_at = now;
    } else {
      order.last_error_slug = check.slug;
      order.last_error = SLUGS[check.slug].message;
      order.failed_at = now;
    }
    return order;
  }
}

/** The driver would store an undefined field as null; the order keeps absent fields absent. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
