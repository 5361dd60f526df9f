import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import type { Express } from 'express';
import type { Connection } from 'mongoose';
import request from 'supertest';
import { createGateway } from '../../src/app.js';
import { auditLogModel, type AuditEntry } from '../../src/back-office/audit-log.js';
import { ledgerEntryModel } from '../../src/ledger/ledger-entry-model.js';
import { orderModel } from '../../src/orders/order-model.js';
import { testConfig } from '../support/test-config.js';
import { testLogger } from '../support/log-capture.js';
import { dropIsolatedDb, isolatedDb } from '../support/isolated-db.js';
import { FakeProvider } from '../support/fake-provider.js';
import { buildCleanHistory, registerHistoryModels } from '../support/ledger-history.js';

const ALICE = 'alice-token-0123456789abcdef0123456789abcd';
const BOB = 'bob-token-0123456789abcdef0123456789abcdef';
const TOKENS = `alice:${ALICE},bob:${BOB}`;

function publicJwk(type: 'ec' | 'ed25519' | 'rsa' | 'ec-k256', bits = 2048): Record<string, unknown> {
  const pair =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : type === 'ec-k256'
        ? generateKeyPairSync('ec', { namedCurve: 'secp256k1' })
        : type === 'ed25519'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('rsa', { modulusLength: bits });
  return pair.publicKey.export({ format: 'jwk' });
}

describe('admin API: staff tokens, audit log, administration', function () {
  this.timeout(60_000);
  let connection: Connection;
  let app: Express;

  before(async () => {
    connection = await isolatedDb('admin');
    // Its refusal cases fail authentication on purpose; the throttle has its own test (admin-hostile).
    app = (await createGateway({ config: testConfig({ ADMIN_TOKENS: TOKENS, ADMIN_AUTH_MAX_FAILURES: '1000' }), logger: testLogger, connection })).app;
  });
  after(async () => {
    await dropIsolatedDb(connection);
  });

  const as = (token: string) => ({
    get: (path: string) => request(app).get(`/admin/v1${path}`).set('Authorization', `Bearer ${token}`),
    post: (path: string, body: object = {}) => request(app).post(`/admin/v1${path}`).set('Authorization', `Bearer ${token}`).send(body),
    put: (path: string, body: object) => request(app).put(`/admin/v1${path}`).set('Authorization', `Bearer ${token}`).send(body),
    patch: (path: string, body: object) => request(app).patch(`/admin/v1${path}`).set('Authorization', `Bearer ${token}`).send(body),
  });
  const alice = as(ALICE);
  const bob = as(BOB);

  async function audit(): Promise<AuditEntry[]> {
    return auditLogModel(connection).find().sort({ created_at: 1 }).lean<AuditEntry[]>();
  }

  /** Every document the admin API could change, to prove an unauthenticated request changed none. */
  async function snapshot(): Promise<string> {
    const names = ['projects', 'products', 'cardholders', 'orders', 'ledger_entries', 'audit_log'];
    const out: Record<string, unknown> = {};
    for (const name of names) out[name] = await connection.collection(name).find().sort({ _id: 1 }).toArray();
    return JSON.stringify(out);
  }

  it('when staff make every kind of change, then each is applied and audited with their name, and the audit summary holds no key material', async () => {
    const before = (await audit()).length;
    const project = (await alice.post('/projects', { name: 'Acme', currency: 'EUR' }).expect(201)).body.data;
    const pid = project.project_id as string;
    const sig = (await alice.post(`/projects/${pid}/signing-keys`, { alg: 'ES256', jwk: publicJwk('ec') }).expect(201)).body.data;
    const sig2 = (await bob.post(`/projects/${pid}/signing-keys`, { alg: 'EdDSA', jwk: publicJwk('ed25519'), kid: 'ed-2026' }).expect(201)).body.data;
    await alice.post(`/projects/${pid}/encryption-keys`, { alg: 'ECDH-ES+A256KW', jwk: publicJwk('ec') }).expect(201);
    const retired = (await bob.post(`/projects/${pid}/signing-keys/${sig.kid}/retire`).expect(200)).body.data;
    assert.equal(retired.status, 'retired');
    assert.equal(sig2.kid, 'ed-2026');
    await bob.post(`/projects/${pid}/disable`).expect(200);
    await alice.post(`/projects/${pid}/enable`).expect(200);
    const deposit = await alice.post(`/projects/${pid}/deposits`, { amount: '250.00', reason: 'initial float' }).expect(201);
    assert.equal(deposit.body.data.balance_after, '250.00');
    await alice
      .post('/products', {
        product_code: 'VIRTUAL_EUR', product_id: 4001, name: 'Virtual EUR', currency: 'EUR',
        issue_fee: '1.50', initial_balance_min: '0', initial_balance_max: '500.00', limits: { daily: '100.00' },
      })
      .expect(201);
    const updated = (await bob.patch('/products/VIRTUAL_EUR', { issue_fee: '2.00' }).expect(200)).body.data;
    assert.equal(updated.issue_fee, '2.00');
    assert.equal((await bob.post('/products/VIRTUAL_EUR/deactivate').expect(200)).body.data.active, false);
    await alice.post(`/projects/${pid}/cardholders`, { external_user_id: 'u-1', first_name: 'Ada', last_name: 'Lovelace' }).expect(201);
    const verified = (await bob.put(`/projects/${pid}/cardholders/u-1/verification`, { verification_status: 'verified' }).expect(200)).body.data;
    assert.equal(verified.verification_status, 'verified');

    const view = (await alice.get(`/projects/${pid}`).expect(200)).body.data as { balance: string; status: string; signing_keys: { status: string }[] };
    assert.equal(view.balance, '250.00');
    assert.equal(view.status, 'active');
    assert.deepEqual(view.signing_keys.map((k) => k.status), ['retired', 'active']);

    const entries = (await audit()).slice(before);
    assert.deepEqual(
      entries.map((e) => [e.staff, e.action, e.outcome]),
      [
        ['alice', 'project.create', 'applied'],
        ['alice', 'project.signing_key.add', 'applied'],
        ['bob', 'project.signing_key.add', 'applied'],
        ['alice', 'project.encryption_key.add', 'applied'],
        ['bob', 'project.signing_key.retire', 'applied'],
        ['bob', 'project.disable', 'applied'],
        ['alice', 'project.enable', 'applied'],
        ['alice', 'project.fund', 'applied'],
        ['alice', 'product.create', 'applied'],
        ['bob', 'product.update', 'applied'],
        ['bob', 'product.deactivate', 'applied'],
        ['alice', 'cardholder.create', 'applied'],
        ['bob', 'cardholder.verification', 'applied'],
      ],
    );
    for (const e of entries) {
      assert.ok(e.request_id && e.created_at && e.completed_at, 'request id and times');
      assert.match(e.target, /^(project|product|cardholder):/);
    }
    const text = JSON.stringify(entries);
    assert.ok(!text.includes('"x":'), 'no JWK coordinates in the audit log');
    assert.ok(!text.includes('Lovelace'), 'no cardholder names in the audit log');

    const listed = (await alice.get(`/audit?target=project:${pid}`).expect(200)).body.data;
    assert.equal(listed.length, 8);
  });

  it('when a request has no valid staff token (none, wrong, malformed), then it is 401 unauthorized and nothing is stored', async () => {
    const pid = (await alice.post('/projects', { name: 'Locked' }).expect(201)).body.data.project_id as string;
    const state = await snapshot();
    const attempts: [string, (r: request.Test) => request.Test][] = [
      ['none', (r) => r],
      ['wrong token', (r) => r.set('Authorization', `Bearer ${ALICE.slice(0, -1)}x`)],
      ['token prefix', (r) => r.set('Authorization', `Bearer ${ALICE.slice(0, 20)}`)],
      ['token plus suffix', (r) => r.set('Authorization', `Bearer ${ALICE}x`)],
      ['no scheme', (r) => r.set('Authorization', ALICE)],
      ['basic scheme', (r) => r.set('Authorization', `Basic ${Buffer.from(`alice:${ALICE}`).toString('base64')}`)],
      ['empty bearer', (r) => r.set('Authorization', 'Bearer ')],
      ['two tokens', (r) => r.set('Authorization', `Bearer ${ALICE} ${BOB}`)],
      ['staff name instead of token', (r) => r.set('Authorization', 'Bearer alice')],
    ];
    const changes: [string, string, object][] = [
      ['post', '/projects', { name: 'Intruder' }],
      ['post', `/projects/${pid}/disable`, {}],
      ['post', `/projects/${pid}/deposits`, { amount: '1000000.00', reason: 'free money' }],
      ['post', `/projects/${pid}/signing-keys`, { alg: 'ES256', jwk: publicJwk('ec') }],
      ['post', '/products', { product_code: 'EVIL', product_id: 666, name: 'x', currency: 'USD', issue_fee: '0', initial_balance_min: '0', initial_balance_max: '1' }],
      ['post', `/projects/${pid}/cardholders`, { external_user_id: 'evil', verification_status: 'verified' }],
    ];
    for (const [label, auth] of attempts) {
      for (const [method, path, body] of changes) {
        const res = await auth(method === 'post' ? request(app).post(`/admin/v1${path}`).send(body) : request(app).get(`/admin/v1${path}`)).expect(401);
        assert.equal(res.body.error.slug, 'unauthorized', `${label} ${path}`);
        assert.equal(res.headers['www-authenticate'], 'Bearer realm="admin"');
      }
      await auth(request(app).get('/admin/v1/orders')).expect(401);
    }
    assert.equal(await snapshot(), state, 'no collection changed');
  });

  it('when the same deposit is sent again, concurrently, or with another body under its key, then the project is funded exactly once', async () => {
    const pid = (await alice.post('/projects', { name: 'Funded' }).expect(201)).body.data.project_id as string;
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        request(app)
          .post(`/admin/v1/projects/${pid}/deposits`)
          .set('Authorization', `Bearer ${ALICE}`)
          .set('Idempotency-Key', 'float-2026-01')
          .send({ amount: '100.00', reason: 'january float' }),
      ),
    );
    assert.deepEqual([...new Set(results.map((r) => r.status))].sort(), [200, 201]);
    assert.equal(results.filter((r) => r.status === 201).length, 1);
    assert.equal(new Set(results.map((r) => (r.body as { data: { order_id: string } }).data.order_id)).size, 1);
    assert.ok(results.filter((r) => r.status === 200).every((r) => r.headers['idempotent-replayed'] === 'true'));

    const reused = await alice.post(`/projects/${pid}/deposits`, { amount: '999.00', reason: 'january float', idempotency_key: 'float-2026-01' }).expect(409);
    assert.equal(reused.body.error.slug, 'idempotency_key_reused');

    const ledger = await ledgerEntryModel(connection).find({ project_id: pid }).lean();
    assert.equal(ledger.length, 1);
    assert.deepEqual([ledger[0]!.kind, ledger[0]!.amount, ledger[0]!.balance_after], ['deposit', 10000, 10000]);
    const orders = await orderModel(connection).find({ project_id: pid }).lean();
    assert.equal(orders.length, 1);
    assert.deepEqual([orders[0]!.order_type, orders[0]!.status, orders[0]!.data.reason, orders[0]!.balance_after], ['balance_deposit', 'completed', 'january float', 10000]);
    assert.equal((await alice.get(`/projects/${pid}`).expect(200)).body.data.balance, '100.00');
  });

  it('when a key breaks the algorithm rules or is private, then it is refused with validation_error and not stored', async () => {
    const pid = (await alice.post('/projects', { name: 'Keys' }).expect(201)).body.data.project_id as string;
    const ecPrivate = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    const bad: [string, string, unknown][] = [
      ['signing', 'ES256', ecPrivate],
      ['signing', 'ES256', publicJwk('ec-k256')],
      ['signing', 'ES256', publicJwk('ed25519')],
      ['signing', 'EdDSA', publicJwk('ec')],
      ['signing', 'PS256', publicJwk('rsa', 1024)],
      ['signing', 'RS256', publicJwk('ec')],
      ['signing', 'HS256', { kty: 'oct', k: 'c2VjcmV0' }],
      ['signing', 'none', publicJwk('ec')],
      ['encryption', 'RSA-OAEP-256', publicJwk('rsa', 1024)],
      ['encryption', 'ECDH-ES+A256KW', publicJwk('ed25519')],
      ['encryption', 'dir', publicJwk('ec')],
      ['signing', 'ES256', { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }],
      ['signing', 'ES256', { ...publicJwk('ec'), use: 'enc' }],
      ['signing', 'ES256', 'not a jwk'],
    ];
    for (const [use, alg, jwk] of bad) {
      const res = await alice.post(`/projects/${pid}/${use}-keys`, { alg, jwk }).expect(400);
      assert.equal(res.body.error.slug, 'validation_error', `${use} ${alg}`);
    }
    await alice.post(`/projects/${pid}/signing-keys`, { alg: 'PS256', jwk: publicJwk('rsa', 2048) }).expect(201);
    await alice.post(`/projects/${pid}/encryption-keys`, { alg: 'RSA-OAEP-256', jwk: publicJwk('rsa', 2048) }).expect(201);
    const stored = (await alice.get(`/projects/${pid}`).expect(200)).body.data;
    assert.equal(stored.signing_keys.length, 1);
    assert.equal(stored.encryption_keys.length, 1);
    const doc = await connection.collection('projects').findOne({ _id: pid } as never);
    assert.ok(!JSON.stringify(doc).includes('"d":'), 'no private member stored');
  });

  it('when the last active key would be retired or a kid is reused, then it is a conflict and nothing changes', async () => {
    const pid = (await alice.post('/projects', { name: 'Last key' }).expect(201)).body.data.project_id as string;
    await alice.post(`/projects/${pid}/signing-keys`, { alg: 'ES256', jwk: publicJwk('ec'), kid: 'only' }).expect(201);
    assert.equal((await alice.post(`/projects/${pid}/signing-keys/only/retire`).expect(409)).body.error.slug, 'conflict');
    assert.equal((await alice.post(`/projects/${pid}/signing-keys`, { alg: 'ES256', jwk: publicJwk('ec'), kid: 'only' }).expect(409)).body.error.slug, 'conflict');
    await alice.post(`/projects/${pid}/signing-keys/only/retire`, { force: true }).expect(200);
    await alice.post(`/projects/${pid}/signing-keys/nope/retire`).expect(404);
  });

  it('when product amounts are inconsistent or malformed, then validation_error and no product', async () => {
    const base = { product_code: 'BAD_RANGE', product_id: 4999, name: 'x', currency: 'USD', issue_fee: '1.00', initial_balance_min: '10.00', initial_balance_max: '5.00' };
    await alice.post('/products', base).expect(400);
    await alice.post('/products', { ...base, initial_balance_max: '50.00', issue_fee: '-1.00' }).expect(400);
    await alice.post('/products', { ...base, initial_balance_max: '50.001' }).expect(400);
    await alice.post('/products', { ...base, currency: 'XXX', initial_balance_max: '50.00' }).expect(400);
    assert.equal(await connection.collection('products').countDocuments({ product_code: 'BAD_RANGE' }), 0);
    await alice.post('/products', { ...base, initial_balance_max: '50.00' }).expect(201);
    await alice.post('/products', { ...base, initial_balance_max: '50.00' }).expect(409);
    await alice.patch('/products/BAD_RANGE', { initial_balance_min: '60.00' }).expect(400);
    const failedAudit = (await audit()).filter((e) => e.target === 'product:BAD_RANGE');
    assert.deepEqual(failedAudit.map((e) => e.outcome), ['applied', 'failed'], 'the refused duplicate is audited as failed');
  });
});

describe('admin API: reconciliation', function () {
  this.timeout(30_000);
  let connection: Connection;
  before(async () => {
    connection = await isolatedDb('admin_reconcile');
  });
  after(async () => {
    await dropIsolatedDb(connection);
  });

  it('when staff ask for a reconciliation, then the report comes back; a planted missing refund makes it not ok', async () => {
    await registerHistoryModels(connection);
    const provider = new FakeProvider();
    const history = await buildCleanHistory(connection, 'prj_admin_recon', provider);
    const app = (await createGateway({ config: testConfig({ ADMIN_TOKENS: TOKENS }), logger: testLogger, connection, cardProvider: provider })).app;
    const ask = () => request(app).post('/admin/v1/reconciliations').set('Authorization', `Bearer ${ALICE}`).send({ settle_s: 0 }).expect(200);
    const clean = (await ask()).body.data;
    assert.equal(clean.ok, true, JSON.stringify(clean.faults));
    assert.equal(clean.totals.entries, 7);

    await ledgerEntryModel(connection).collection.deleteOne({ project_id: history.projectId, order_id: history.topupFailed._id, kind: 'refund' });
    const dirty = (await ask()).body.data;
    assert.equal(dirty.ok, false);
    assert.deepEqual(dirty.fault_counts, { missing_refund: 1 });
    await request(app).post('/admin/v1/reconciliations').set('Authorization', `Bearer ${ALICE}`).send({ settle_s: -1 }).expect(400);
    await request(app).post('/admin/v1/reconciliations').send({}).expect(401);
  });
});

describe('admin API placement', function () {
  this.timeout(30_000);
  let connection: Connection;
  before(async () => {
    connection = await isolatedDb('admin_placement');
  });
  after(async () => {
    await dropIsolatedDb(connection);
  });

  it('when ADMIN_ENABLED=false, then /admin/v1 does not exist', async () => {
    const gw = await createGateway({ config: testConfig({ ADMIN_TOKENS: TOKENS, ADMIN_ENABLED: 'false' }), logger: testLogger, connection });
    assert.equal(gw.adminApp, undefined);
    const res = await request(gw.app).get('/admin/v1/projects').set('Authorization', `Bearer ${ALICE}`).expect(404);
    assert.equal(res.body.error.slug, 'not_found');
  });

  it('when ADMIN_PORT is set, then the admin API is served by its own app and not on the main one', async () => {
    const gw = await createGateway({ config: testConfig({ ADMIN_TOKENS: TOKENS, ADMIN_PORT: '0' }), logger: testLogger, connection });
    await request(gw.app).get('/admin/v1/projects').set('Authorization', `Bearer ${ALICE}`).expect(404);
    assert.ok(gw.adminApp);
    await request(gw.adminApp).get('/admin/v1/projects').set('Authorization', `Bearer ${ALICE}`).expect(200);
    await request(gw.adminApp).get('/admin/v1/projects').expect(401);
  });
});
