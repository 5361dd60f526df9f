import assert from 'node:assert/strict';
import type { Connection } from 'mongoose';
import { createGateway, type Gateway } from '../../src/app.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import { OrderQueue, queuedOrderModel, type QueuedOrder } from '../../src/workflow/order-queue.js';
import { FakeProvider } from '../support/fake-provider.js';
import { dropIsolatedDb, isolatedDb } from '../support/isolated-db.js';
import { testLogger } from '../support/log-capture.js';
import { uniq } from '../support/orders-fixtures.js';
import { testConfig } from '../support/test-config.js';

/**
 * A poll reads the 50 earliest due entries of the order queue. Entries that would stay at the head
 * poll after poll (their step keeps throwing) must not fill that batch for ever: the orders behind
 * them would never be started (seen at 10k seeded orders in bench:scale).
 */
describe('order queue starvation (orders that fail unexpectedly leave the head of the queue)', function () {
  this.timeout(60_000);
  let connection: Connection;
  let gateway: Gateway;
  const entries = () => queuedOrderModel(connection);

  beforeEach(async () => {
    connection = await isolatedDb('starve');
    // FakeProvider.createCard throws a plain Error: a step failure the workflow does not expect.
    gateway = await createGateway({ config: testConfig({ WORKER_ENABLED: 'false' }), logger: testLogger, connection, cardProvider: new FakeProvider() });
  });
  afterEach(async () => {
    await gateway.stop();
    await dropIsolatedDb(connection);
  });

  async function dueAt(id: string): Promise<number> {
    return (await entries().findById(id).lean<QueuedOrder>())!.due_at.getTime();
  }

  /** An order whose next step (creating its card) throws with FakeProvider, due long ago. */
  async function poisonedOrder(): Promise<Order> {
    const now = new Date();
    const order: Order = {
      _id: uniq('ord'), project_id: uniq('prj'), order_type: 'card_issue', idempotency_key: uniq('key'), request_hash: 'h',
      status: 'activating', issue_status: 'card_create_pending', is_issued: false, rejected: false, attempts: 0,
      data: { currency: 'USD', product_code: 'p', external_user_id: 'u', initial_balance: 0, issue_fee: 0, total_charge: 0 },
      balance_before: 0, balance_after: 0, next_attempt_at: new Date(0), created_at: now, updated_at: now,
    };
    await orderModel(connection).collection.insertOne(order as never);
    await new OrderQueue(connection).add(order._id, new Date(1_000));
    return order;
  }

  it('when the 60 earliest due orders fail unexpectedly at every try, then the next poll still reaches the entry behind them', async () => {
    for (let i = 0; i < 60; i++) await poisonedOrder();
    const behind = uniq('ord');
    await new OrderQueue(connection).add(behind, new Date(Date.now() - 1_000));

    const before = await dueAt(behind);
    await gateway.orders.worker.drain();
    await gateway.orders.worker.drain();
    assert.ok((await dueAt(behind)) > before, 'the entry behind them was looked at (it has no order yet: due again a little later)');
  });

  it('when an order\'s step throws something unexpected, then its entry is due again later, not at the head of the next poll', async () => {
    const order = await poisonedOrder();

    await gateway.orders.worker.pollOnce();
    await gateway.orders.worker.drain();
    const wait = (await dueAt(order._id)) - Date.now();
    assert.ok(wait > 20_000, `put off after the unexpected failure (due in ${wait} ms)`);
    assert.equal((await orderModel(connection).findById(order._id).lean<Order>())?.status, 'activating', 'the order is left as it was');
  });
});
