import assert from 'node:assert/strict';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import { OrderQueue, queuedOrderModel, type QueuedOrder } from '../../src/workflow/order-queue.js';
import { uniq } from '../support/orders-fixtures.js';
import { testStore } from '../support/test-store.js';

describe('order queue (the worker\'s to-do list)', () => {
  const conn = () => testStore().connection;
  const entries = () => queuedOrderModel(conn());

  function order(status: Order['status'], orderType: Order['order_type'] = 'card_issue'): Order {
    const now = new Date();
    return {
      _id: uniq('ord'), project_id: uniq('prj'), order_type: orderType, idempotency_key: uniq('key'), request_hash: 'h', status,
      is_issued: false, data: { currency: 'USD' }, rejected: false, attempts: 0, created_at: now, updated_at: now,
      ...(status === 'completed' || status === 'failed' ? {} : { next_attempt_at: new Date(now.getTime() + 5_000) }),
    };
  }

  it('when unfinished card-issue orders have no entry (stored before the queue existed), then recover queues exactly those', async () => {
    const unfinished = [order('new'), order('activating'), order('processing')];
    const left = [order('completed'), order('failed'), order('completed', 'balance_deposit')];
    await orderModel(conn()).collection.insertMany([...unfinished, ...left] as never[]);
    const queue = new OrderQueue(conn());
    await queue.add(unfinished[0]!._id, new Date(0)); // already queued: kept as it is

    assert.ok((await queue.recover()) >= 2);
    for (const o of unfinished) assert.ok(await entries().findById(o._id).lean(), `${o.status} is queued`);
    for (const o of left) assert.equal(await entries().findById(o._id).lean(), null, `${o.order_type} ${o.status} is not`);
    assert.equal((await entries().findById(unfinished[0]!._id).lean<QueuedOrder>())?.due_at.getTime(), 0, 'an existing entry is not overwritten');
    assert.equal((await entries().findById(unfinished[1]!._id).lean<QueuedOrder>())?.due_at.getTime(), unfinished[1]!.next_attempt_at!.getTime());
    assert.equal(await queue.recover(), 0, 'a second run finds nothing to add');
  });

  it('when an entry names no order, then it is looked at again soon while a request may still store one (later the older it is), and dropped after', async () => {
    const queue = new OrderQueue(conn());
    const young = uniq('ord');
    await queue.add(young, new Date());
    const before = Date.now();
    await queue.dropIfOrphan(young);
    const kept = await entries().findById(young).lean<QueuedOrder>();
    assert.ok(kept, 'young: kept');
    // Its request may store the order any moment and die before charging it: then only this entry leads to it.
    const wait = kept.due_at.getTime() - before;
    assert.ok(wait >= 1_000 && wait < 5_000, `due again in about a second, not at the end of the grace (${wait} ms)`);

    const older = uniq('ord');
    await entries().collection.insertOne({ _id: older, due_at: new Date(0), created_at: new Date(Date.now() - 4 * 60_000) } as never);
    await queue.dropIfOrphan(older);
    const olderWait = (await entries().findById(older).lean<QueuedOrder>())!.due_at.getTime() - Date.now();
    assert.ok(olderWait > 10_000 && olderWait <= 15_000, `an older one backs off, at most 15 s (${olderWait} ms)`);

    const old = uniq('ord');
    await entries().collection.insertOne({ _id: old, due_at: new Date(0), created_at: new Date(Date.now() - 10 * 60_000) } as never);
    await queue.dropIfOrphan(old);
    assert.equal(await entries().findById(old).lean(), null, 'old: dropped');
  });

  it('when entries are due at different times, then due() returns the due ones, earliest first', async () => {
    await entries().deleteMany({});
    const queue = new OrderQueue(conn());
    const now = Date.now();
    await queue.add('ord_later', new Date(now + 60_000));
    await queue.add('ord_second', new Date(now - 1_000));
    await queue.add('ord_first', new Date(now - 2_000));
    assert.deepEqual((await queue.due(10)).map((e) => e._id), ['ord_first', 'ord_second']);
    assert.deepEqual((await queue.due(1)).map((e) => e._id), ['ord_first']);
  });
});
