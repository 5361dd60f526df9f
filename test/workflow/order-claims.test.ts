import assert from 'node:assert/strict';
import { claimId, orderClaimModel, OrderClaims } from '../../src/workflow/order-claims.js';
import { uniq } from '../support/orders-fixtures.js';
import { testStore } from '../support/test-store.js';

describe('order claims (leases without compare-and-swap)', () => {
  const conn = () => testStore().connection;
  before(async () => {
    await orderClaimModel(conn()).createIndexes();
  });

  it('when 20 claimers in two processes race for one order, then exactly one holds it', async () => {
    const orderId = uniq('ord');
    const a = new OrderClaims(conn(), 5000);
    const b = new OrderClaims(conn(), 5000);
    const leases = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).tryClaim(orderId)));
    const held = leases.filter(Boolean);
    assert.equal(held.length, 1);
    assert.equal(await held[0]!.holds(), true);
  });

  it('when a lease expires, then the next claimer takes the next epoch and the old holder knows it lost', async () => {
    const orderId = uniq('ord');
    const a = new OrderClaims(conn(), 1000);
    const b = new OrderClaims(conn(), 1000);
    const first = (await a.tryClaim(orderId))!;
    assert.equal(await b.tryClaim(orderId), undefined, 'held');
    await new Promise((r) => setTimeout(r, 1100));
    const second = (await b.tryClaim(orderId))!;
    assert.equal(second.epoch, first.epoch + 1);
    assert.equal(await first.holds(), false);
    assert.equal(await first.renew(), false);
    assert.equal(await second.holds(), true);
  });

  it('when a holder releases, then the order can be claimed at once', async () => {
    const orderId = uniq('ord');
    const claims = new OrderClaims(conn(), 60_000);
    const lease = (await claims.tryClaim(orderId))!;
    await lease.release();
    assert.ok(await new OrderClaims(conn(), 60_000).tryClaim(orderId));
  });

  it('when an order was claimed several times, then a process that never saw it finds the latest claim and takes the next epoch', async () => {
    const orderId = uniq('ord');
    const a = new OrderClaims(conn(), 60_000);
    for (let i = 0; i < 3; i++) await (await a.tryClaim(orderId))!.release();
    const fresh = new OrderClaims(conn(), 60_000); // another process: walks from epoch 1
    const held = (await fresh.tryClaim(orderId))!;
    assert.equal(held.epoch, 4);
    assert.equal(await a.tryClaim(orderId), undefined, 'the first process sees the new holder');
    assert.deepEqual(
      (await orderClaimModel(conn()).find({ order_id: orderId }).sort({ epoch: 1 }).lean()).map((c) => c._id),
      [1, 2, 3, 4].map((e) => claimId(orderId, e)),
    );
  });

  it('when a finished order is forgotten, then all its claims go', async () => {
    const orderId = uniq('ord');
    const claims = new OrderClaims(conn(), 60_000);
    await (await claims.tryClaim(orderId))!.release();
    await (await claims.tryClaim(orderId))!.release();
    await claims.forget(orderId);
    assert.equal(await orderClaimModel(conn()).countDocuments({ order_id: orderId }), 0);
  });
});
