import type { AuditLog } from '../../src/back-office/audit-log.js';
import { StaffCardOps } from '../../src/card-ops/card-ops-admin.js';
import { createCardOps } from '../../src/card-ops/card-ops-feature.js';
import { createLogger } from '../../src/logging/logger.js';
import { orderModel, TERMINAL_STATUSES, type Order } from '../../src/orders/order-model.js';
import { createOrdersFeature } from '../../src/orders/orders-feature.js';
import type { StoreContext } from './cli.js';
import { scriptProvider } from './provider.js';

export interface ScriptCardOps {
  staff: StaffCardOps;
  /** Takes the order as far as it goes (or waits for the gateway that holds it) until it ends or `timeoutMs` passes; the order as it then stands. */
  drive(orderId: string, timeoutMs: number): Promise<Order>;
  close(): Promise<void>;
}

/**
 * The card operations a script runs, wired exactly as in the gateway (the orders feature's claims,
 * charger, queue and the card-op workflow) against the configured card provider, or the running
 * development gateway's simulator. With no worker of its own running, the script pushes its one
 * order itself; if a gateway's worker holds the order the claim says so and the script only waits.
 */
export async function openScriptCardOps(store: StoreContext, audit: AuditLog): Promise<ScriptCardOps> {
  const { provider, close } = await scriptProvider(store);
  const logger = createLogger({ level: 'warn' });
  const orders = await createOrdersFeature({ config: store.config, logger, connection: store.connection, provider });
  const cardOps = createCardOps(store.connection, logger, orders);
  await Promise.all(Object.values(store.connection.models).map((m) => m.createIndexes()));
  const stored = orderModel(store.connection);
  return {
    staff: new StaffCardOps(store.connection, audit, cardOps.operations),
    drive: async (orderId, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const order = await stored.findById(orderId).lean<Order>();
        if (!order) throw new Error(`order ${orderId} is not stored`);
        if (TERMINAL_STATUSES.includes(order.status) || Date.now() > deadline) return order;
        if (!(await orders.worker.runOrder(orderId))) await new Promise((r) => setTimeout(r, 200));
      }
    },
    close: async () => {
      await orders.stop();
      await close();
    },
  };
}
