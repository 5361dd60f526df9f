import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { cardholderModel, type Cardholder } from '../../src/cardholders/cardholder-model.js';
import { queuedVerificationModel } from '../../src/cardholders/verification-queue.js';
import type { CreateCardholderRequest, PartnerClient } from '@card-gateway/client';
import { cardholderIdFor } from '../../src/ids/ids.js';
import { orderModel } from '../../src/orders/order-model.js';
import type { Product } from '../../src/products/product-model.js';
import { waitUntil } from '../support/gateway-process.js';
import { deposit, makeCardholder, makeProduct, uniq } from '../support/orders-fixtures.js';
import { createTestProject, expectApiError, startTestGateway, type TestGateway, type TestProject } from '../support/partner.js';
import { setFaults, setRule, settleAccount, simulatorAccounts, suiteSimulator } from '../support/provider-sim.js';
import { testStore } from '../support/test-store.js';

/**
 * cardholders/create and cardholders/get through HTTP with the partner client, against the suite's
 * provider simulator (no webhooks there: the sweeper carries every verdict). The webhook path and
 * crashes are in cardholder-webhooks.test.ts and cardholder-crash.test.ts.
 */
describe('cardholders: create, verification by the provider, get, and cards/create for each status', function () {
  this.timeout(60_000);
  const conn = () => testStore().connection;
  let tg: TestGateway;
  let tp: TestProject;
  let client: PartnerClient;
  let product: Product;

  before(async () => {
    // A short request timeout: the sweeper's first look at a cardholder waits for the create's own attempts.
    tg = await startTestGateway({ config: { WORKER_ENABLED: 'true', WORKER_POLL_MS: '20', PROVIDER_RETRY_BASE_MS: '20', PROVIDER_REQUEST_TIMEOUT_MS: '1000' } });
    await tg.gateway.start();
  });
  beforeEach(async () => {
    tp = await createTestProject({ url: tg.url });
    client = tp.client;
    product = await makeProduct(conn(), { issue_fee: 100 });
    await deposit(conn(), tp.project._id, 10_000);
  });
  after(async () => {
    await tg.close();
  });

  const holderBody = (externalUserId = uniq('user'), overrides: Partial<CreateCardholderRequest> = {}): CreateCardholderRequest => ({
    external_user_id: externalUserId,
    name: { first: 'Ada', last: 'Lovelace' },
    billing_address: { line1: '12 St James Square', line2: 'Flat 3', city: 'London', postal_code: 'SW1Y 4JH', country: 'GB' },
    contact: { email: 'ada@example.com', phone: '+447700900123' },
    ...overrides,
  });
  const stored = (externalUserId: string) => cardholderModel(conn()).findById(cardholderIdFor(tp.project._id, externalUserId)).lean<Cardholder>();
  const queued = (externalUserId: string) => queuedVerificationModel(conn()).findById(cardholderIdFor(tp.project._id, externalUserId)).lean();
  const accountsOf = async (externalUserId: string) => (await simulatorAccounts()).filter((a) => a.reference === cardholderIdFor(tp.project._id, externalUserId));
  const statusOf = async (externalUserId: string) => (await client.getCardholder({ external_user_id: externalUserId })).data.status;
  const untilStatus = (externalUserId: string, status: string) => waitUntil(async () => (await statusOf(externalUserId)) === status, 15_000, `the cardholder to be ${status}`);

  it('when a valid cardholder is created, then it is answered 201 pending, stored with its details, given one provider account, and becomes verified', async () => {
    const user = uniq('user');
    const { status, data } = await client.createCardholder(holderBody(user));
    assert.equal(status, 201);
    assert.equal(data.status, 'pending');
    assert.equal(data.cardholder_id, cardholderIdFor(tp.project._id, user));
    assert.deepEqual(
      [data.external_user_id, data.name, data.billing_address, data.contact, data.verified_at],
      [user, { first: 'Ada', last: 'Lovelace' }, { line1: '12 St James Square', line2: 'Flat 3', city: 'London', postal_code: 'SW1Y 4JH', country: 'GB', state: null }, { email: 'ada@example.com', phone: '+447700900123' }, null],
    );

    await untilStatus(user, 'verified');
    const doc = await stored(user);
    const accounts = await accountsOf(user);
    assert.equal(accounts.length, 1);
    assert.deepEqual([accounts[0]!.name, accounts[0]!.status], ['Ada Lovelace', 'active']);
    assert.deepEqual(
      [doc?.verification_status, doc?.source, doc?.provider_account_id, doc?.email, doc?.billing_address?.country, doc?.verified_at instanceof Date, doc?.rejected_at],
      ['verified', 'partner', accounts[0]!.id, 'ada@example.com', 'GB', true, undefined],
    );
    assert.equal(await queued(user), null, 'the verification queue entry is gone once the verdict is recorded');
    const { data: read } = await client.getCardholder({ external_user_id: user });
    assert.deepEqual([read.status, read.verified_at], ['verified', doc!.verified_at!.toISOString()]);
  });

  it('when optional fields are left out, then they are null in the answer and absent in the store', async () => {
    const user = uniq('user');
    const { data } = await client.createCardholder({
      external_user_id: user,
      name: { first: 'Grace', last: 'Hopper' },
      billing_address: { line1: '1 Main St', city: 'Arlington', postal_code: '22201', country: 'US', state: 'VA' },
      contact: { email: 'grace@example.com' },
    });
    assert.deepEqual([data.billing_address?.line2, data.billing_address?.state, data.contact?.phone], [null, 'VA', null]);
    const doc = await stored(user);
    assert.deepEqual([doc?.billing_address && 'line2' in doc.billing_address, doc?.phone], [false, undefined]);
  });

  describe('when the body is not valid, then validation_error names the field and nothing is stored or asked of the provider', () => {
    const address = { line1: '1 Main St', city: 'London', postal_code: 'N1 1AA', country: 'GB' };
    const cases: [string, (user: string) => Record<string, unknown>, string][] = [
      ['no name', (u) => ({ ...holderBody(u), name: undefined }), 'name'],
      ['a blank last name', (u) => ({ ...holderBody(u), name: { first: 'Ada', last: '  ' } }), 'name.last'],
      ['a country that is not ISO 3166 alpha-2 (UK)', (u) => ({ ...holderBody(u), billing_address: { ...address, country: 'UK' } }), 'billing_address.country'],
      ['a country in lower case', (u) => ({ ...holderBody(u), billing_address: { ...address, country: 'gb' } }), 'billing_address.country'],
      ['no city', (u) => ({ ...holderBody(u), billing_address: { ...address, city: undefined } }), 'billing_address.city'],
      ['no postal code', (u) => ({ ...holderBody(u), billing_address: { ...address, postal_code: '' } }), 'billing_address.postal_code'],
      ['an unknown address field', (u) => ({ ...holderBody(u), billing_address: { ...address, county: 'Kent' } }), 'billing_address'],
      ['no contact', (u) => ({ ...holderBody(u), contact: undefined }), 'contact'],
      ['an email that is not one', (u) => ({ ...holderBody(u), contact: { email: 'ada-at-example' } }), 'contact.email'],
      ['a phone that is not E.164', (u) => ({ ...holderBody(u), contact: { email: 'a@example.com', phone: '07700 900123' } }), 'contact.phone'],
      ['an unknown top-level field', (u) => ({ ...holderBody(u), date_of_birth: '1815-12-10' }), '(body)'],
      ['an external_user_id longer than 128', () => holderBody('x'.repeat(129)), 'external_user_id'],
    ];
    for (const [what, body, path] of cases) {
      it(`${what}: ${path}`, async () => {
        const user = uniq('user');
        const err = await expectApiError(client.call('/api/v1/cardholders/create', body(user)));
        assert.deepEqual([err.slug, err.status, err.sealed], ['validation_error', 400, true]);
        assert.ok(err.issues?.some((i) => i.path === path), `issues name ${path}: ${JSON.stringify(err.issues)}`);
        assert.equal(await stored(user), null);
        assert.equal(await queued(user), null);
        assert.deepEqual(await accountsOf(user), []);
      });
    }

    it('a missing or blank external_user_id: external_user_id_required', async () => {
      for (const external_user_id of [undefined, '   ']) {
        const err = await expectApiError(client.call('/api/v1/cardholders/create', { ...holderBody(), external_user_id }));
        assert.deepEqual([err.slug, err.status], ['external_user_id_required', 400]);
      }
      assert.equal(await cardholderModel(conn()).countDocuments({ project_id: tp.project._id }), 0);
    });
  });

  it('when the same external_user_id is created again with other details, then the first cardholder is answered 200, unchanged', async () => {
    const user = uniq('user');
    const first = await client.createCardholder(holderBody(user));
    const again = await client.createCardholder(holderBody(user, { name: { first: 'Augusta', last: 'King' } }));
    assert.deepEqual([first.status, again.status], [201, 200]);
    assert.equal(again.data.cardholder_id, first.data.cardholder_id);
    assert.deepEqual(again.data.name, { first: 'Ada', last: 'Lovelace' });
    assert.equal(await cardholderModel(conn()).countDocuments({ project_id: tp.project._id, external_user_id: user }), 1);
    assert.equal((await stored(user))?.first_name, 'Ada');
  });

  it('when 8 creates for one external_user_id race, then exactly one is 201, the others 200 with the same cardholder, one is stored and the provider has one account', async () => {
    const user = uniq('user');
    const answers = await Promise.all(Array.from({ length: 8 }, () => client.createCardholder(holderBody(user))));
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 200, 200, 200, 200, 200, 200, 201]);
    assert.equal(new Set(answers.map((a) => a.data.cardholder_id)).size, 1);
    assert.equal(await cardholderModel(conn()).countDocuments({ project_id: tp.project._id, external_user_id: user }), 1);
    await untilStatus(user, 'verified');
    assert.equal((await accountsOf(user)).length, 1);
    assert.equal((await stored(user))?.provider_account_id, (await accountsOf(user))[0]!.id);
  });

  it('when the provider rejects the account, then the cardholder ends rejected and cards/create answers cardholder_rejected (the order stored failed, nothing charged)', async () => {
    const user = uniq('user');
    await setRule(suiteSimulator(), cardholderIdFor(tp.project._id, user), { account_verification: 'reject' });
    await client.createCardholder(holderBody(user));
    await untilStatus(user, 'rejected');
    const doc = await stored(user);
    assert.deepEqual([doc?.verification_status, doc?.rejected_at instanceof Date, doc?.verified_at], ['rejected', true, undefined]);
    assert.equal((await accountsOf(user))[0]?.status, 'rejected');
    assert.equal(await queued(user), null);

    const err = await expectApiError(client.createCard({ product_code: product.product_code, external_user_id: user }));
    assert.deepEqual([err.slug, err.status], ['cardholder_rejected', 422]);
    const order = await orderModel(conn()).findById(err.order_id).lean();
    assert.deepEqual([order?.status, order?.last_error_slug, order?.rejected], ['failed', 'cardholder_rejected', true]);
  });

  it('when the provider holds the verification, then the cardholder stays pending (cardholder_not_ready) until the provider verifies it, and then a card is issued', async () => {
    const user = uniq('user');
    await setRule(suiteSimulator(), cardholderIdFor(tp.project._id, user), { account_verification: 'hold' });
    await client.createCardholder(holderBody(user));
    // The sweeper asks while the provider holds it: still pending after several checks.
    await waitUntil(async () => ((await queued(user))?.checks ?? 0) >= 2, 10_000, 'the sweeper to have asked twice');
    assert.equal(await statusOf(user), 'pending');
    const notReady = await expectApiError(client.createCard({ product_code: product.product_code, external_user_id: user }));
    assert.deepEqual([notReady.slug, notReady.status], ['cardholder_not_ready', 422]);

    const [account] = await accountsOf(user);
    assert.equal(account?.status, 'pending');
    await settleAccount(suiteSimulator(), account.id, 'verify');
    await untilStatus(user, 'verified');

    const { status, data: order } = await client.createCard({ product_code: product.product_code, external_user_id: user, initial_balance: '5.00' });
    assert.equal(status, 201);
    await waitUntil(async () => (await client.checkOrder({ order_id: order.order_id })).data.status === 'completed', 20_000, 'the card to be issued');
  });

  it('when the provider is down at create, then the cardholder is stored pending without an account, and the sweeper opens it once the provider is back', async () => {
    const user = uniq('user');
    await setFaults(suiteSimulator(), { error_rate: 1 });
    try {
      const answer = await client.createCardholder(holderBody(user));
      assert.deepEqual([answer.status, answer.data.status], [201, 'pending']);
      const doc = await stored(user);
      assert.deepEqual([doc?.verification_status, doc?.provider_account_id], ['pending', undefined]);
      assert.ok(await queued(user), 'the sweeper has it to do');
    } finally {
      await setFaults(suiteSimulator(), {});
    }
    await untilStatus(user, 'verified');
    assert.equal((await accountsOf(user)).length, 1);
  });

  it('when cardholders/get names an unknown user, another project\'s user, or none, then it is refused; a staff-made cardholder has null address and contact', async () => {
    const mine = uniq('user');
    await client.createCardholder(holderBody(mine));
    const other = await createTestProject({ url: tg.url });
    const unknown = await expectApiError(client.getCardholder({ external_user_id: uniq('nobody') }));
    assert.deepEqual([unknown.slug, unknown.status], ['cardholder_not_found', 422]);
    const foreign = await expectApiError(other.client.getCardholder({ external_user_id: mine }));
    assert.deepEqual([foreign.slug, foreign.status], ['cardholder_not_found', 422]);
    const none = await expectApiError(client.call('/api/v1/cardholders/get', {}));
    assert.equal(none.slug, 'external_user_id_required');
    const shape = await expectApiError(client.call('/api/v1/cardholders/get', { external_user_id: mine, extra: 1 }));
    assert.equal(shape.slug, 'validation_error');

    const staffMade = await makeCardholder(conn(), tp.project._id, 'verified');
    const { data } = await client.getCardholder({ external_user_id: staffMade });
    assert.deepEqual([data.status, data.billing_address, data.contact, data.name], ['verified', null, null, { first: null, last: null }]);
  });

  it('when a partner creates a cardholder the staff already made (pending), then it is answered 200 as it is and the provider is not asked', async () => {
    const user = uniq('user');
    await cardholderModel(conn()).create({ _id: cardholderIdFor(tp.project._id, user), project_id: tp.project._id, external_user_id: user, verification_status: 'pending' });
    const { status, data } = await client.createCardholder(holderBody(user));
    assert.deepEqual([status, data.status, data.billing_address], [200, 'pending', null]);
    // The stray queue entry the losing create wrote is dropped by the sweeper without asking anyone.
    await waitUntil(async () => (await queued(user)) === null, 10_000, 'the sweeper to drop the entry');
    assert.deepEqual(await accountsOf(user), []);
    assert.equal((await stored(user))?.verification_status, 'pending');
  });

  it('when an idempotency key is sent anyway, then the create is answered as usual (external_user_id is the key)', async () => {
    const { status } = await client.createCardholder(holderBody(), { idempotencyKey: randomUUID() });
    assert.equal(status, 201);
  });
});
