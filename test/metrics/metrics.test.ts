import assert from 'node:assert/strict';
import { GatewayApiError } from '@card-gateway/client';
import { orderModel } from '../../src/orders/order-model.js';
import { PARTNER_PATHS } from '../../src/partner-api/routes.js';
import { postRaw } from '../support/craft.js';
import { deposit, makeCardholder, makeProduct } from '../support/orders-fixtures.js';
import { waitUntil } from '../support/gateway-process.js';
import { createTestProject, startTestGateway, type TestGateway, type TestProject } from '../support/partner.js';
import { testStore } from '../support/test-store.js';

const STAFF = 'metrics-staff-token-0123456789abcdef0123';

/** Parses the Prometheus text format into `name{labels}` -> value (one sample per line). */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

/** Sum of every sample of `name` whose labels include all of `labels`. */
function sum(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const [key, value] of samples) {
    const brace = key.indexOf('{');
    const metric = brace === -1 ? key : key.slice(0, brace);
    if (metric !== name) continue;
    if (Object.entries(labels).every(([k, v]) => key.includes(`${k}="${v}"`))) total += value;
  }
  return total;
}

describe('metrics: /metrics on the admin listener', function () {
  this.timeout(60_000);
  let tg: TestGateway;
  let tp: TestProject;

  before(async () => {
    tg = await startTestGateway({
      config: {
        ADMIN_TOKENS: `ops:${STAFF}`,
        WORKER_ENABLED: 'true',
        WORKER_POLL_MS: '20',
        RATE_LIMIT_PER_PROJECT: '4',
        RATE_LIMIT_PER_ADDRESS: '1000000',
      },
    });
    await tg.gateway.start();
    tp = await createTestProject({ url: tg.url });
  });
  after(async () => {
    await tg.close();
  });

  const scrape = async (): Promise<Map<string, number>> => {
    const res = await fetch(`${tg.url}/metrics`, { headers: { Authorization: `Bearer ${STAFF}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parse(await res.text());
  };

  it('when /metrics is asked without a staff token, then it is refused 401 unauthorized', async () => {
    const res = await fetch(`${tg.url}/metrics`);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { slug: string } }).error.slug, 'unauthorized');
  });

  it('when partners call, replay and exceed the rate limit, then requests, latency, orders, store, provider, replay and rate-limit metrics all move', async () => {
    const before = await scrape();
    const conn = testStore().connection;
    const product = await makeProduct(conn, { issue_fee: 100 });
    const user = await makeCardholder(conn, tp.project._id);
    await deposit(conn, tp.project._id, 10_000);

    const order = (await tp.client.createCard({ product_code: product.product_code, external_user_id: user, initial_balance: '1.00' })).data;
    // Waited for in the store, not through orders/check: the project's budget (4 a window) is for the steps below.
    const orders = orderModel(conn);
    await waitUntil(async () => (await orders.findById(order.order_id).lean())?.status === 'completed', 20_000, 'the order to complete');

    // The same sealed request twice: the second is a replay.
    const token = await tp.client.seal(tp.client.claims(PARTNER_PATHS.checkOrder, { order_id: order.order_id }));
    assert.equal((await postRaw(tg.url, PARTNER_PATHS.checkOrder, token)).status, 200);
    assert.equal((await postRaw(tg.url, PARTNER_PATHS.checkOrder, token)).status, 401);

    // The project's limit is 4 a window: keep asking until one is refused rate_limited.
    let refused = false;
    for (let i = 0; i < 10 && !refused; i++) {
      try {
        await tp.client.checkOrder({ order_id: order.order_id });
      } catch (err) {
        if (!(err instanceof GatewayApiError) || err.slug !== 'rate_limited') throw err;
        refused = true;
      }
    }
    assert.ok(refused, 'a request was refused rate_limited');

    const after = await scrape();
    const moved = (name: string, labels: Record<string, string> = {}) => sum(after, name, labels) - sum(before, name, labels);
    assert.ok(moved('gateway_http_requests_total', { route: PARTNER_PATHS.createCard, status: '201' }) + moved('gateway_http_requests_total', { route: PARTNER_PATHS.createCard, status: '200' }) >= 1);
    assert.ok(moved('gateway_http_requests_total', { route: PARTNER_PATHS.checkOrder, status: '401', slug: 'replay_detected' }) >= 1);
    assert.ok(moved('gateway_http_requests_total', { status: '429', slug: 'rate_limited' }) >= 1);
    assert.ok(moved('gateway_http_request_duration_seconds_count', { route: PARTNER_PATHS.checkOrder }) >= 3);
    assert.equal(moved('gateway_replays_refused_total'), 1);
    assert.ok(moved('gateway_rate_limit_refusals_total') >= 1);
    assert.ok(moved('gateway_provider_calls_total', { operation: 'createCard', outcome: 'ok' }) >= 1);
    assert.ok(moved('gateway_provider_call_duration_seconds_count', { operation: 'createCard' }) >= 1);
    assert.ok(moved('gateway_store_commands_total', { command: 'insert', outcome: 'ok' }) >= 1);
    assert.ok(moved('gateway_store_command_duration_seconds_count', { command: 'find' }) >= 1);
    assert.ok(sum(after, 'gateway_orders', { status: 'completed', issue_status: 'completed' }) >= 1);
    assert.ok(after.has('gateway_worker_queue{state="due"}'));
    assert.ok(after.has('gateway_worker_leases_held'));
    // Route labels are patterns: no order id ever becomes a label.
    assert.ok(![...after.keys()].some((k) => k.includes(order.order_id)));
  });
});
