import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Connection } from 'mongoose';
import request from 'supertest';
import { createGateway, type Gateway } from '../../src/app.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import type { Project } from '../../src/projects/project-model.js';
import { cardModel } from '../../src/cards/card-model.js';
import type { SandboxRuleRequest } from '../../src/provider/sandbox-simulator.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { reportTable } from '../../src/reconcile/report-table.js';
import { testLogger } from '../support/log-capture.js';
import { dropIsolatedDb, isolatedDb } from '../support/isolated-db.js';
import { deposit, makeCardholder, makeProduct, makeProject } from '../support/orders-fixtures.js';
import { testConfig } from '../support/test-config.js';

const TOKEN = 'recon-token-0123456789abcdef0123456789abcdef';

describe('reconciliation of a history the real workflow wrote', function () {
  this.timeout(60_000);
  let connection: Connection;
  let gateway: Gateway;
  let project: Project;

  before(async () => {
    connection = await isolatedDb('recon_workflow');
    gateway = await createGateway({
      config: testConfig({ ADMIN_TOKENS: `ops:${TOKEN}`, PROVIDER_RETRY_BASE_MS: '5', PROVIDER_MAX_ATTEMPTS: '2', WORKER_POLL_MS: '10' }),
      logger: testLogger,
      connection,
    });
    project = await makeProject(connection);
    await deposit(connection, project._id, 20_000);
    const product = await makeProduct(connection, { issue_fee: 300 });
    const free = await makeProduct(connection, { issue_fee: 0 });

    const rules: [string, Partial<SandboxRuleRequest> | undefined, string, string][] = [
      ['completes', undefined, product.product_code, '20.00'],
      ['declined at creation', { create_card_failure: { failure: 'declined', times: 1 } }, product.product_code, '20.00'],
      ['top-up refused', { topup_result: 'fail' }, product.product_code, '20.00'],
      ['top-up lost', { topup_result: 'verify_fail' }, product.product_code, '20.00'],
      ['free card', undefined, free.product_code, '0'],
      ['too expensive', undefined, product.product_code, '1000.00'],
    ];
    const ids: string[] = [];
    for (const [, rule, code, initial] of rules) {
      const user = await makeCardholder(connection, project._id);
      if (rule) await gateway.orders.simulator!.setRule(project._id, { card_issue: 'auto', topup_result: 'succeed', ...rule, external_user_id: user });
      const reply = await gateway.orders.handlers
        .createCard({ project, body: { product_code: code, external_user_id: user, initial_balance: initial }, idempotencyKey: randomUUID(), requestId: 't' })
        .catch((err: { details?: { order_id?: string } }) => ({ data: { order_id: err.details?.order_id } }));
      ids.push((reply.data as { order_id: string }).order_id);
    }
    const pending = await makeCardholder(connection, project._id, 'pending');
    await gateway.orders.handlers
      .createCard({ project, body: { product_code: product.product_code, external_user_id: pending }, idempotencyKey: randomUUID(), requestId: 't' })
      .catch(() => undefined);

    const deadline = Date.now() + 30_000;
    for (;;) {
      await gateway.orders.worker.drain();
      const orders = await orderModel(connection).find({ project_id: project._id, order_type: 'card_issue' }).lean<Order[]>();
      if (orders.every((o) => o.status === 'completed' || o.status === 'failed')) break;
      if (Date.now() > deadline) throw new Error('orders did not finish');
      await new Promise((r) => setTimeout(r, 20));
    }
    const outcome = await orderModel(connection).find({ _id: { $in: ids } }).lean<Order[]>();
    assert.deepEqual(outcome.map((o) => o.status).sort(), ['completed', 'completed', 'failed', 'failed', 'failed', 'failed']);
  });
  after(async () => {
    await gateway.stop();
    await dropIsolatedDb(connection);
  });

  it('when every order has run through the workflow (completed, declined, top-up refused or lost, free, refused), then reconciliation against the provider simulator is clean', async () => {
    const report = await new Reconciler(connection).run({ stuckAfterS: 900, settleS: 0, provider: gateway.orders.provider });
    assert.equal(report.ok, true, reportTable(report));
    assert.equal(report.provider_checked, true);
    assert.equal(report.totals.cards, 4, 'the completed and free orders, and the two whose top-up failed after the card was made');
    assert.ok(report.totals.entries >= 7, JSON.stringify(report.totals));
  });

  it('when the provider reports a card differently, then the admin API reconciliation (wired to the gateway provider) names it', async () => {
    const active = await cardModel(connection).findOne({ project_id: project._id, status: 'active' }).lean();
    await gateway.orders.provider.terminate({ idempotencyKey: `${active!.order_id}:test-terminate`, providerCardId: active!.provider_card_id });
    const res = await request(gateway.app).post('/admin/v1/reconciliations').set('Authorization', `Bearer ${TOKEN}`).send({ settle_s: 0 }).expect(200);
    assert.equal(res.body.data.ok, false);
    assert.deepEqual(res.body.data.fault_counts, { card_mismatch: 1 });
    assert.match(res.body.data.faults[0].detail, /^status active, provider terminated$/);
  });
});
