import { z } from 'zod';
import type { CardService } from '../cards/card-service.js';
import { GatewayError } from '../errors/gateway-error.js';
import { currencyExponent } from '../money/money.js';
import type { PartnerHandlers } from '../partner-api/partner-handler.js';
import type { Project } from '../projects/project-model.js';
import type { CardOrders } from './card-orders.js';
import { validationError } from './create-card-request.js';
import type { Order } from './order-model.js';
import type { OrderRefunds, PartnerOrderView } from './order-refunds.js';
import { toOrderView } from './order-view.js';

export const checkOrderBody = z
  .strictObject({ order_id: z.string().min(1).max(64).optional(), idempotency_key: z.string().min(1).max(255).optional() })
  .refine((b) => (b.order_id === undefined) !== (b.idempotency_key === undefined), {
    message: 'give exactly one of order_id or idempotency_key',
    path: ['order_id'],
  });

export interface OrderHandlerDeps {
  orders: CardOrders;
  cards: CardService;
  refunds: OrderRefunds;
}

/** The three partner endpoints (contract section 3) on top of the use cases. */
export function createOrderHandlers({ orders, cards, refunds }: OrderHandlerDeps): PartnerHandlers {
  const view = async (order: Order, project: Project): Promise<PartnerOrderView> => {
    const exponent = currencyExponent(project.currency);
    const [withRefunds] = await refunds.attach(project._id, [toOrderView(order, exponent)], exponent);
    return withRefunds!;
  };
  return {
    async createCard({ project, body, idempotencyKey }) {
      const outcome = await orders.create(project, body, idempotencyKey);
      const headers: Record<string, string> = outcome.replayed ? { 'Idempotent-Replayed': 'true' } : {};
      if (outcome.status === 422) {
        const slug = outcome.order.last_error_slug!;
        throw new GatewayError(slug, undefined, { order_id: outcome.order._id }, headers);
      }
      return { status: 201, data: await view(outcome.order, project), headers };
    },

    async checkOrder({ project, body }) {
      const parsed = checkOrderBody.safeParse(body);
      if (!parsed.success) throw validationError(parsed.error);
      const order = parsed.data.order_id
        ? await orders.findById(project._id, parsed.data.order_id)
        : await orders.findByKey(project._id, parsed.data.idempotency_key!);
      if (!order) throw new GatewayError('order_not_found');
      return { status: 200, data: await view(order, project) };
    },

    async getCard({ project, body }) {
      return { status: 200, data: await cards.get(project._id, body) };
    },
  };
}
