import type { Connection } from 'mongoose';
import { GatewayError } from '../errors/gateway-error.js';
import type { Logger } from '../logging/logger.js';
import { currencyExponent } from '../money/money.js';
import { OrderRefunds } from '../orders/order-refunds.js';
import { toOrderView } from '../orders/order-view.js';
import type { OrdersFeature } from '../orders/orders-feature.js';
import type { PartnerHandler } from '../partner-api/partner-handler.js';
import { CARD_OP_TYPES, type CardOpType } from './card-op-requests.js';
import { CardOperationWorkflow } from './card-op-workflow.js';
import { CardOperations } from './card-operations.js';
import { CardState, cardTerminationModel } from './card-state.js';

export type CardOpsHandlers = Record<CardOpType, PartnerHandler>;

export interface CardOpsFeature {
  handlers: CardOpsHandlers;
  operations: CardOperations;
  state: CardState;
}

/**
 * Card operations after issue: their use case, and their workflow registered with the orders
 * feature's worker (same claims, fence and queue as card issue). Registers its model, so its
 * index exists before the first request.
 */
export function createCardOps(connection: Connection, logger: Logger, orders: OrdersFeature): CardOpsFeature {
  cardTerminationModel(connection);
  const { engine } = orders;
  const state = new CardState(connection);
  engine.workflows.register(
    CARD_OP_TYPES,
    new CardOperationWorkflow(connection, { provider: orders.provider, ledger: orders.ledger, charger: engine.charger, fence: engine.fence, state, logger, options: engine.options, pauses: engine.pauses }),
  );
  const operations = new CardOperations(connection, {
    charger: engine.charger,
    claims: engine.claims,
    queue: engine.queue,
    state,
    handOff: (order, lease) => orders.worker.handOff(order, lease),
  });
  const refunds = new OrderRefunds(connection);

  const handler =
    (type: CardOpType): PartnerHandler =>
    async ({ project, body, idempotencyKey }) => {
      const { order, replayed } = await operations.create(project, type, body, idempotencyKey);
      const headers: Record<string, string> = replayed ? { 'Idempotent-Replayed': 'true' } : {};
      // Refused by a rule: the same answer as every replay, with the stored order's id.
      if (order.rejected) throw new GatewayError(order.last_error_slug!, order.last_error, { order_id: order._id }, headers);
      const exponent = currencyExponent(project.currency);
      const [view] = await refunds.attach(project._id, [toOrderView(order, exponent)], exponent);
      return { status: 201, data: view, headers };
    };
  return { handlers: Object.fromEntries(CARD_OP_TYPES.map((type) => [type, handler(type)])) as CardOpsHandlers, operations, state };
}
