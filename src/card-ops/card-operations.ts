import type { Connection, Model } from 'mongoose';
import { cardModel, type Card } from '../cards/card-model.js';
import { GatewayError } from '../errors/gateway-error.js';
import { SLUGS } from '../errors/slugs.js';
import { orderIdFor } from '../ids/ids.js';
import { IDEMPOTENCY_KEY, validationError } from '../orders/create-card-request.js';
import type { OrderCharger } from '../orders/order-charge.js';
import { orderModel, type Order, type OrderData } from '../orders/order-model.js';
import { requestHash } from '../orders/request-hash.js';
import { productModel, type Product } from '../products/product-model.js';
import type { Project } from '../projects/project-model.js';
import { DuplicateKeyError, insertUnique } from '../store/duplicate-key.js';
import type { Lease, OrderClaims } from '../workflow/order-claims.js';
import type { OrderQueue } from '../workflow/order-queue.js';
import { cardChangeBody, isFundsOp, moveFundsBody, type CardOpType, type MoveFundsBody } from './card-op-requests.js';
import { checkCardOperation } from './card-op-rules.js';
import type { CardState } from './card-state.js';

/** Who asks for an operation when it is not the partner (staff through the admin API or a script). */
export interface CardOpOrigin {
  /** Stored as the order's created_by, e.g. `staff:alice`. */
  createdBy: string;
}

export interface CardOpOutcome {
  order: Order;
  replayed: boolean;
}

export interface CardOperationsDeps {
  charger: OrderCharger;
  claims: OrderClaims;
  queue: OrderQueue;
  state: CardState;
  /** Hands a ready order (and its lease) to the worker; true when the worker took the lease. */
  handOff: (order: Order, lease: Lease) => boolean;
}

/**
 * The partner's card operations (top-up, withdraw, freeze, unfreeze, terminate) as orders, the way
 * cards/create makes card-issue orders: validated, stored once per (project, idempotency key)
 * (refusals too, as failed orders, so the same key answers the same), a top-up charged at once
 * through the same charger as card issue, then driven by the worker (card-op-workflow.ts).
 */
export class CardOperations {
  private readonly orders: Model<Order>;
  private readonly cards: Model<Card>;
  private readonly products: Model<Product>;

  constructor(
    connection: Connection,
    private readonly deps: CardOperationsDeps,
  ) {
    this.orders = orderModel(connection);
    this.cards = cardModel(connection);
    this.products = productModel(connection);
  }

  async create(project: Project, type: CardOpType, body: unknown, idempotencyKey: string | undefined, origin?: CardOpOrigin): Promise<CardOpOutcome> {
    if (!idempotencyKey) throw new GatewayError('idempotency_key_required');
    if (!IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new GatewayError('validation_error', undefined, { issues: [{ path: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters' }] });
    }
    const parsed = isFundsOp(type) ? moveFundsBody.safeParse(body) : cardChangeBody.safeParse(body);
    if (!parsed.success) throw validationError(parsed.error);
    // The operation is part of what the key is bound to: freeze and unfreeze have the same body. So
    // is a staff origin: a key the partner used is never answered with the partner's order, nor
    // the other way round (the key space is the project's, shared by both).
    const hash = requestHash(origin ? { operation: type, body, created_by: origin.createdBy } : { operation: type, body });

    const order = await this.buildOrder(project, type, parsed.data, idempotencyKey, hash);
    if (origin) order.created_by = origin.createdBy;
    // The worker's entry goes first: an accepted order is never stored without one.
    if (!order.rejected) await this.deps.queue.add(order._id, new Date());
    try {
      await insertUnique('orders', () => this.orders.create(order));
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
      const winner = await this.orders.findOne({ _id: order._id, project_id: project._id }).lean<Order>();
      if (!winner) throw err;
      if (winner.request_hash !== hash) throw new GatewayError('idempotency_key_reused');
      // The original answer, with the order as it stands; its charge is settled first.
      const settled = winner.order_type === 'card_topup' ? await this.deps.charger.settle(winner._id, this.deps.handOff) : winner;
      return { order: settled, replayed: true };
    }
    if (order.rejected) return { order, replayed: false };
    if (type === 'card_topup') return { order: await this.deps.charger.settle(order._id, this.deps.handOff, order), replayed: false };
    await this.startNow(order);
    return { order, replayed: false };
  }

  /** Nothing to charge: the worker starts the order now if it has a free slot, else its poll does. */
  private async startNow(order: Order): Promise<void> {
    const lease = await this.deps.claims.tryClaim(order._id, { fresh: true });
    if (lease && !this.deps.handOff(order, lease)) await lease.release();
  }

  private async buildOrder(project: Project, type: CardOpType, body: { card_id: string } | MoveFundsBody, idempotencyKey: string, hash: string): Promise<Order> {
    const card = await this.cards.findOne({ _id: body.card_id, project_id: project._id }).lean<Card>();
    const [issueOrder, product, terminated] = card
      ? await Promise.all([
          this.orders.findOne({ _id: card.order_id, project_id: project._id, order_type: 'card_issue' }).lean<Order>(),
          this.products.findOne({ product_code: card.product_code }).lean<Product>(),
          this.deps.state.isTerminated(card._id),
        ])
      : [null, null, false];
    const funds = 'amount' in body ? body : undefined;
    const check = checkCardOperation({ type, card, issueOrder, product, terminated, ...(funds && { funds }) });

    const data: OrderData = { card_id: body.card_id };
    if (funds) data.currency = funds.currency;
    if (check.amount !== undefined) {
      data.amount = check.amount;
      // What the charger takes from the master balance: the top-up's amount, nothing otherwise.
      if (type === 'card_topup') data.total_charge = check.amount;
    }
    const now = new Date();
    const order: Order = {
      _id: orderIdFor(project._id, idempotencyKey),
      project_id: project._id,
      order_type: type,
      idempotency_key: idempotencyKey,
      request_hash: hash,
      status: check.ok ? 'new' : 'failed',
      is_issued: false,
      data,
      rejected: !check.ok,
      attempts: 0,
      created_at: now,
      updated_at: now,
    };
    // Only a card of the project is named as the order's card (a foreign id stays in data).
    if (card) {
      order.card_id = card._id;
      order.external_user_id = card.external_user_id;
    }
    if (check.ok) {
      order.next_attempt_at = now;
    } else {
      order.last_error_slug = check.slug;
      order.last_error = check.message ?? SLUGS[check.slug].message;
      order.failed_at = now;
    }
    return order;
  }

  async findById(projectId: string, orderId: string): Promise<Order | null> {
    return this.orders.findOne({ _id: orderId, project_id: projectId }).lean<Order>();
  }
}
