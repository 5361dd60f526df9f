import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { cardModel } from '../../src/cards/card-model.js';
import { ledgerEntryModel } from '../../src/ledger/ledger-entry-model.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import { queuedOrderModel, type QueuedOrder } from '../../src/workflow/order-queue.js';
import { waitUntil } from '../support/gateway-process.js';
import { assertExactlyOnce, deposit, makeCardholder, makeProduct } from '../support/orders-fixtures.js';
import { clientFor, createTestProject } from '../support/partner.js';
import { holderProcesses, pausedAt } from '../support/holder-processes.js';
import { testStore } from '../support/test-store.js';

/**
 * A cards/create writes the worker's queue entry, then the order, then charges it. A worker that
 * polls between the first two writes finds an entry without an order. If the request then stores
 * the order and dies before charging it, the entry is all that leads to the order: it must come due
 * again soon, not at the end of the orphan grace (5 minutes), or the order sits at `new`.
 * Held deterministically with the request path's pause points, and killed with SIGKILL.
 */
describe('a create killed between its writes, after a worker saw its entry without the order', function () {
  this.timeout(180_000);
  const conn = () => testStore().connection;
  const holders = holderProcesses('race');
  const { start } = holders;

  it('when the request stored its order and died before charging it, then another process still finishes the order within seconds', async () => {
    const partner = await createTestProject({ url: 'http://127.0.0.1:1' });
    const project = partner.project;
    const product = await makeProduct(conn(), { issue_fee: 100 });
    await deposit(conn(), project._id, 100_000);
    const user = await makeCardholder(conn(), project._id);
    await holders.gateway().orders.simulator!.setRule(project._id, { card_issue: 'auto', topup_result: 'succeed', external_user_id: user });

    const dying = await start({ WORKFLOW_PAUSE_AT: `create+settle@${project._id}` });
    const answer = clientFor(dying.url, project._id, partner.keys)
      .createCard({ product_code: product.product_code, external_user_id: user, initial_balance: '2.00' }, { idempotencyKey: randomUUID() })
      .catch((err: unknown) => err);
    await waitUntil(() => pausedAt(dying, 'create') !== undefined, 60_000, 'the request to hold between its queue entry and its order');
    const orderId = (JSON.parse(pausedAt(dying, 'create')!) as { order_id: string }).order_id;

    // The process's own worker polls every 50 ms: it finds the entry with no order and puts it off.
    const entries = queuedOrderModel(conn());
    await waitUntil(
      async () => {
        const entry = await entries.findById(orderId).lean<QueuedOrder>();
        return entry !== null && entry.due_at.getTime() > entry.created_at.getTime() + 500;
      },
      30_000,
      'a worker to look at the entry while its order is not stored',
    );
    assert.equal(await orderModel(conn()).exists({ _id: orderId }), null, 'the order is not stored yet');

    dying.child.kill('SIGCONT');
    await waitUntil(() => pausedAt(dying, 'settle') !== undefined, 30_000, 'the request to store its order and hold before charging');
    dying.child.kill('SIGKILL');
    await dying.exited;
    assert.ok((await answer) instanceof Error, 'the partner saw the connection die');

    const left = (await orderModel(conn()).findById(orderId).lean<Order>())!;
    assert.equal(left.status, 'new');
    assert.equal(left.balance_after, undefined, 'not charged');
    const entry = (await entries.findById(orderId).lean<QueuedOrder>())!;
    assert.ok(entry.due_at.getTime() - Date.now() < 20_000, `the entry comes due soon (in ${entry.due_at.getTime() - Date.now()} ms), not at the end of the grace`);

    await start();
    // Terminal first, then its queue entry goes: two writes, so wait for both.
    await waitUntil(
      async () =>
        ['completed', 'failed'].includes((await orderModel(conn()).findById(orderId).lean<Order>())?.status ?? '') &&
        (await entries.exists({ _id: orderId })) === null,
      60_000,
      'the surviving process to finish the order and drop its queue entry',
    );
    const order = (await orderModel(conn()).findById(orderId).lean<Order>())!;
    assert.equal(order.status, 'completed', `${order.status}/${order.issue_status} ${order.last_error ?? ''}`);
    const charges = await ledgerEntryModel(conn()).find({ order_id: orderId, kind: 'charge' }).lean();
    assert.deepEqual(charges.map((e) => e.amount), [-300], 'charged once, in full');
    assert.equal(await cardModel(conn()).countDocuments({ order_id: orderId }), 1);
    await assertExactlyOnce(conn(), project._id);
  });

  it('when a request holds its order\'s lease while another process polls, then that process finishes the order within seconds once the request lets go, not a lease later', async () => {
    const partner = await createTestProject({ url: 'http://127.0.0.1:1' });
    const project = partner.project;
    const product = await makeProduct(conn(), { issue_fee: 100 });
    await deposit(conn(), project._id, 100_000);
    const user = await makeCardholder(conn(), project._id);
    await holders.gateway().orders.simulator!.setRule(project._id, { card_issue: 'auto', topup_result: 'succeed', external_user_id: user });

    // No worker here: the request charges the order under its lease, then has nobody to hand it to.
    const accepting = await start({ WORKER_ENABLED: 'false', WORKFLOW_PAUSE_AT: `charge@${project._id}` });
    const answer = clientFor(accepting.url, project._id, partner.keys).createCard(
      { product_code: product.product_code, external_user_id: user, initial_balance: '1.00' },
      { idempotencyKey: randomUUID() },
    );
    await waitUntil(() => pausedAt(accepting, 'charge') !== undefined, 60_000, 'the request to hold its order in the charge');
    const orderId = (JSON.parse(pausedAt(accepting, 'charge')!) as { order_id: string }).order_id;
    // The poller starts once the request holds the order: started before, on a loaded machine its
    // worker could claim the queued order ahead of the request's own claim.
    const polling = await start({ WORKER_LEASE_MS: '30000' });
    // Held for a while: the polling process tries the order at every poll (50 ms) and cannot claim it.
    await new Promise((r) => setTimeout(r, 1_500));
    assert.ok(await queuedOrderModel(conn()).exists({ _id: orderId }), 'still queued while held');

    accepting.child.kill('SIGCONT');
    assert.equal((await answer).status, 201);
    const released = Date.now();
    await waitUntil(
      async () => (await orderModel(conn()).findById(orderId).lean<Order>())?.status === 'completed',
      60_000,
      'the polling process to finish the order',
    );
    const waited = Date.now() - released;
    assert.ok(waited < 10_000, `finished ${waited} ms after the request let go, not a lease (30 s) later`);
    assert.ok(polling.output.length > 0);
    await assertExactlyOnce(conn(), project._id);
  });
});
