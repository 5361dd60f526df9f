import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { createGateway, type Gateway } from '../../src/app.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import { startServer } from '../../src/server.js';
import { waitUntil } from '../support/gateway-process.js';
import { testLogger } from '../support/log-capture.js';
import { deposit, makeCardholder, makeProduct } from '../support/orders-fixtures.js';
import { createTestProject } from '../support/partner.js';
import { ScriptedProvider } from '../support/scripted-provider.js';
import { testConfig } from '../support/test-config.js';
import { testStore } from '../support/test-store.js';

const STAFF_TOKEN = 'browser-staff-token-0123456789abcdef012345';
const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.resolve('test-output', 'screenshots');

/**
 * The support console in a real Chromium (Debian's package, driven by playwright-core): sign in,
 * find a failed order by its slug, open it, read its timeline and ledger, and be refused without
 * a valid token. Screenshots land in test-output/screenshots/ (UPDATE_DOC_SCREENSHOTS=1 also
 * refreshes docs/images/console-order.png, the README's).
 */
describe('support console in a real browser', function () {
  this.timeout(120_000);
  let gateway: Gateway;
  let server: Awaited<ReturnType<typeof startServer>>;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  let keysDir: string;
  let order: Order;
  const offsite: string[] = [];

  before(async () => {
    keysDir = await mkdtemp(path.join(os.tmpdir(), 'console-keys-'));
    const provider = new ScriptedProvider();
    provider.verifyAnswers = ['failed'];
    gateway = await createGateway({
      config: testConfig({ GATEWAY_KEYS_DIR: keysDir, ADMIN_TOKENS: `dana:${STAFF_TOKEN}`, WORKER_ENABLED: 'true', WORKER_POLL_MS: '20', PROVIDER_RETRY_BASE_MS: '5' }),
      logger: testLogger,
      connection: testStore().connection,
      cardProvider: provider,
    });
    server = await startServer(gateway.app, '127.0.0.1', 0);
    await gateway.start();

    // A failed order with a story: charged, card created, top-up refused at verification, refunded.
    const tp = await createTestProject({ url: server.url, name: 'Browser <b>partner</b>' });
    const conn = testStore().connection;
    const product = await makeProduct(conn, { issue_fee: 100 });
    const user = await makeCardholder(conn, tp.project._id);
    await deposit(conn, tp.project._id, 10_000);
    const created = (await tp.client.createCard({ product_code: product.product_code, external_user_id: user, initial_balance: '3.00' })).data;
    await waitUntil(async () => {
      order = (await orderModel(conn).findById(created.order_id).lean<Order>())!;
      return order.status === 'failed';
    }, 30_000, 'the order to fail');
    assert.equal(order.last_error_slug, 'provider_declined');

    await mkdir(SHOTS, { recursive: true });
    profile = await mkdtemp(path.join(os.tmpdir(), 'console-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] ?? (await context.newPage());
    // The console must not reach the network: any request off this gateway fails the test.
    page.on('request', (r) => {
      if (!r.url().startsWith(server.url)) offsite.push(r.url());
    });
  });

  after(async () => {
    await context?.close();
    await server?.close(1000);
    await gateway?.stop();
    await rm(profile, { recursive: true, force: true });
    await rm(keysDir, { recursive: true, force: true });
    assert.deepEqual(offsite, [], 'no request left the gateway');
  });

  it('when someone opens the console without a session or signs in with a wrong token, then they are refused and see no data', async () => {
    await page.goto(`${server.url}/console/orders?status=failed`);
    assert.equal(new URL(page.url()).pathname, '/console/login', 'sent to the sign-in page');
    await page.fill('#token', 'not-a-staff-token-at-all-0123456789abcdef');
    const [answer] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/console/login') && r.request().method() === 'POST'), page.click('button[type=submit]')]);
    assert.equal(answer.status(), 401);
    assert.match(await page.textContent('[role=alert]') ?? '', /not a staff token/);
    assert.equal((await context.cookies()).some((c) => c.name === 'console_session'), false, 'no session cookie');
    await page.screenshot({ path: path.join(SHOTS, 'console-refused.png') });
    await page.goto(`${server.url}/console/orders/${order._id}`);
    assert.equal(new URL(page.url()).pathname, '/console/login', 'an order page is not shown either');
  });

  it('when staff sign in and filter by slug, then they find the failed order, open it, and see its timeline and ledger entries', async () => {
    await page.goto(`${server.url}/console/login`);
    await page.fill('#token', STAFF_TOKEN);
    await Promise.all([page.waitForURL(/\/console\/orders\?status=failed$/), page.click('button[type=submit]')]);
    const session = (await context.cookies()).find((c) => c.name === 'console_session');
    assert.ok(session, 'a session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');

    await page.fill('input[name=project_id]', order.project_id);
    await page.selectOption('select[name=last_error_slug]', 'provider_declined');
    await Promise.all([page.waitForURL(/last_error_slug=provider_declined/), page.click('form.filters button[type=submit]')]);
    const counts = await page.textContent('#slug-counts');
    assert.match(counts ?? '', /provider_declined\s*1/);
    await page.screenshot({ path: path.join(SHOTS, 'console-failed-orders.png'), fullPage: true });

    await Promise.all([page.waitForURL(new RegExp(`/console/orders/${order._id}$`)), page.click(`a[href="/console/orders/${order._id}"]`)]);
    const timeline = (await page.textContent('#timeline')) ?? '';
    for (const step of ['created', 'ledger charge', 'card stored', 'ledger refund', 'failed']) assert.ok(timeline.includes(step), `timeline shows "${step}"`);
    assert.match(timeline, /provider_declined at initial_topup_verify_error/);
    const ledgerRows: string[][] = [];
    for (const row of await page.locator('#ledger tbody tr').all()) ledgerRows.push(await row.locator('td').allTextContents());
    assert.deepEqual(
      ledgerRows.map((r) => [r[1], r[2], r[3], r[4]]),
      [
        ['charge', '-4.00', '100.00', '96.00'],
        ['refund', '3.00', '96.00', '99.00'],
      ],
      'the charge (fee + initial balance) and the refund of the undelivered amount, with balances',
    );
    assert.match((await page.textContent('main')) ?? '', /400000\*{6}0002/, 'the card, masked');
    assert.doesNotMatch((await page.content()) ?? '', /4000000000000002/, 'never the full number');
    const shot = path.join(SHOTS, 'console-order.png');
    await page.screenshot({ path: shot, fullPage: true });
    // The README's copy is refreshed on request only, so a test run leaves the work tree clean.
    if (process.env.UPDATE_DOC_SCREENSHOTS === '1') await copyFile(shot, path.resolve('docs', 'images', 'console-order.png'));
  });
});
