import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createGateway, type Gateway } from '../../src/app.js';
import { cardModel, type Card } from '../../src/cards/card-model.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import type { Project } from '../../src/projects/project-model.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { reportTable } from '../../src/reconcile/report-table.js';
import { waitUntil } from '../support/gateway-process.js';
import { testLogger } from '../support/log-capture.js';
import { deposit, makeCardholder, makeProduct, makeProject } from '../support/orders-fixtures.js';
import { simulatorEnv, startTestSimulator } from '../support/provider-sim.js';
import { testConfig } from '../support/test-config.js';
import { testStore } from '../support/test-store.js';

describe("reconciliation against the provider's card list", function () {
  this.timeout(60_000);
  const conn = () => testStore().connection;
  let sim: Awaited<ReturnType<typeof startTestSimulator>>;
  let gateway: Gateway;
  let project: Project;
  let card: Card;
  const orderIds: string[] = [];

  before(async () => {
    // Its own simulator: the programme's card list is this test's cards only.
    sim = await startTestSimulator();
    gateway = await createGateway({ config: testConfig({ ...simulatorEnv(sim.sim), PROVIDER_RETRY_BASE_MS: '5' }), logger: testLogger, connection: conn() });
    project = await makeProject(conn());
    await deposit(conn(), project._id, 100_000);
    const product = await makeProduct(conn(), { issue_fee: 100 });
    const user = await makeCardholder(conn(), project._id);
    for (let i = 0; i < 3; i++) {
      const reply = await gateway.orders.handlers.createCard({ project, body: { product_code: product.product_code, external_user_id: user }, idempotencyKey: randomUUID(), requestId: 't' });
      const id = (reply.data as { order_id: string }).order_id;
      orderIds.push(id);
      await waitUntil(async () => {
        await gateway.orders.worker.runOrder(id);
        return (await orderModel(conn()).findById(id).lean<Order>())?.status === 'completed';
      }, 20_000, 'the order to complete');
    }
    card = (await cardModel(conn()).findOne({ project_id: project._id }).lean<Card>())!;
  });
  after(async () => {
    await gateway.stop();
    await sim.stop();
  });

  // Scoped to this test's project: the suite's store holds every other test's projects too.
  const reconcile = (projectIds: string[]) => new Reconciler(conn()).run({ stuckAfterS: 900, settleS: 0, provider: gateway.orders.provider, providerInventory: true, projectIds });

  it('when the provider holds exactly the cards the gateway holds, then the report is clean', async () => {
    const report = await reconcile([project._id]);
    assert.equal(report.ok, true, reportTable(report));
  });

  it('when the provider holds live cards the gateway does not (second cards of finished orders), then provider_card_unknown is reported and the run is not ok', async () => {
    const orphans: string[] = [];
    // More than one page of the list (100 a page), so paging is exercised.
    for (let i = 0; i < 105; i++) {
      const made = await gateway.orders.provider.createCard({
        idempotencyKey: `orphan-${randomUUID()}`,
        orderId: orderIds[i % orderIds.length]!,
        projectId: project._id,
        productCode: 'x',
        currency: 'USD',
        externalUserId: `orphan-user-${i}`,
        limits: {},
      });
      orphans.push(made.providerCardId);
    }
    const report = await reconcile([project._id]);
    assert.equal(report.ok, false);
    assert.equal(report.fault_counts.provider_card_unknown, 105, reportTable(report));
    assert.ok(report.faults.some((f) => f.kind === 'provider_card_unknown' && f.detail.includes(orphans[104]!)), 'the cards of the second page are found too');
    // Another project's run does not report them: their orders are not its own.
    const other = await makeProject(conn());
    assert.equal((await reconcile([other._id])).fault_counts.provider_card_unknown, undefined);
    for (const [i, id] of orphans.entries()) await gateway.orders.provider.terminate({ idempotencyKey: `orphan-end-${i}`, providerCardId: id });
  });

  it('when the provider reports a card in another status than the gateway, then card_mismatch names it', async () => {
    await gateway.orders.provider.deactivate({ idempotencyKey: `${card.order_id}:freeze-test`, providerCardId: card.provider_card_id });
    const report = await reconcile([project._id]);
    assert.deepEqual(report.fault_counts, { card_mismatch: 1 }, reportTable(report));
  });
});
