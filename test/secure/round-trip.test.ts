import assert from 'node:assert/strict';
import { GatewayApiError } from '@card-gateway/client';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { KEY_MANAGEMENT_ALGS, SIGNATURE_ALGS } from '../../src/jose/index.js';
import { BODY_CANARY } from '../support/log-audit.js';
import { clientFor, createTestProject, echoHandlers, startTestGateway, type TestGateway } from '../support/partner.js';
import { capturedLogLines } from '../support/log-capture.js';
import { testStore } from '../support/test-store.js';

describe('secure channel: round trips', function () {
  this.timeout(60_000);
  let gw: TestGateway;

  before(async () => {
    gw = await startTestGateway({
      partnerHandlers: {
        ...echoHandlers(),
        getCard: (request) => {
          if ((request.body as { card_id?: string }).card_id === 'missing') return Promise.reject(new GatewayError('card_not_found'));
          if ((request.body as { card_id?: string }).card_id === 'explode') return Promise.reject(new Error('handler bug'));
          return Promise.resolve({ status: 200, data: { card_id: 'card_1' } });
        },
      },
    });
  });
  after(() => gw.close());

  for (const encryptionAlg of KEY_MANAGEMENT_ALGS) {
    for (const signingAlg of SIGNATURE_ALGS) {
      it(`when a partner signs with ${signingAlg} and the gateway answers with ${encryptionAlg}, then requests to both gateway key types and the answers verify`, async () => {
        const { project, keys } = await createTestProject({ url: gw.url, signingAlg, encryptionAlg });
        // The request to each of the gateway's key types; the answer to the project's key type.
        for (const gatewayEncryptionAlg of KEY_MANAGEMENT_ALGS) {
          const client = clientFor(gw.url, project._id, keys, { gatewayEncryptionAlg });
          const body = { external_user_id: 'u-1', note: BODY_CANARY, nested: { amount: '10.00' } };
          const res = await client.call<{ endpoint: string; body: unknown; project_id: string }>('/api/v1/orders/check', body);
          assert.equal(res.status, 200);
          assert.deepEqual(res.data, { endpoint: 'checkOrder', body, idempotency_key: null, project_id: project._id });
          assert.match(res.requestId, /^[0-9a-f-]{36}$/);
        }
        const stored = await testStore().connection.collection('replay_cache').countDocuments({ project_id: project._id });
        assert.equal(stored, KEY_MANAGEMENT_ALGS.length, 'each accepted request left exactly one jti');
      });
    }
  }

  it('when createCard is called without a key, then the client generates an Idempotency-Key and the handler receives it', async () => {
    const { client } = await createTestProject({ url: gw.url });
    const res = await client.createCard({ external_user_id: 'u-2', product_code: 'VIRTUAL_USD' });
    const data = res.data as unknown as { idempotency_key: string; endpoint: string };
    assert.equal(data.endpoint, 'createCard');
    assert.match(data.idempotency_key, /^[0-9a-f-]{36}$/);
    const given = await client.createCard({ external_user_id: 'u-2' }, { idempotencyKey: 'my-key-0001' });
    assert.equal((given.data as unknown as { idempotency_key: string }).idempotency_key, 'my-key-0001');
  });

  it('when the handler throws a GatewayError or crashes, then the error answer is sealed to the project', async () => {
    const { client } = await createTestProject({ url: gw.url });
    const missing = await client.getCard({ card_id: 'missing' }).then(
      () => assert.fail('expected an error'),
      (err: unknown) => err,
    );
    assert.ok(missing instanceof GatewayApiError);
    assert.equal(missing.slug, 'card_not_found');
    assert.equal(missing.status, 404);
    assert.equal(missing.sealed, true);
    assert.match(missing.request_id ?? '', /^[0-9a-f-]{36}$/);

    const crashed = await client.getCard({ card_id: 'explode' }).then(
      () => assert.fail('expected an error'),
      (err: unknown) => err,
    );
    assert.ok(crashed instanceof GatewayApiError);
    assert.equal(crashed.slug, 'internal_error');
    assert.equal(crashed.sealed, true);
  });

  it('when the create route is called without an Idempotency-Key, then idempotency_key_required comes back sealed', async () => {
    const { client } = await createTestProject({ url: gw.url });
    const err = await client.call('/api/v1/cards/create', { external_user_id: 'u-3' }).then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof GatewayApiError);
    assert.equal(err.slug, 'idempotency_key_required');
    assert.equal(err.status, 400);
    assert.equal(err.sealed, true);
  });

  it('when no handlers are injected, then the partner routes are the real ones behind the envelope and answer sealed (order_not_found)', async () => {
    const bare = await startTestGateway();
    try {
      const { client } = await createTestProject({ url: bare.url });
      const err = await client.checkOrder({ order_id: 'o' }).then(
        () => assert.fail('expected an error'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof GatewayApiError);
      assert.equal(err.slug, 'order_not_found');
      assert.equal(err.sealed, true);
    } finally {
      await bare.close();
    }
  });

  it('when a request is refused, then the log says which check refused it (slug, fixed reason, request id) and nothing of the input', async () => {
    const res = await fetch(`${gw.url}/api/v1/orders/check`, { method: 'POST', headers: { 'Content-Type': 'application/jose' }, body: `eyJhbGciOiJub25lIn0.${BODY_CANARY}` });
    assert.equal(res.status, 401);
    const requestId = res.headers.get('x-request-id')!;
    const lines = capturedLogLines().filter((l) => l.includes(requestId));
    const rejected = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === 'partner request rejected');
    assert.deepEqual(
      { slug: rejected?.slug, reason: rejected?.reason },
      { slug: 'invalid_encryption', reason: 'expected 5 segments' },
    );
    assert.ok(lines.every((l) => !l.includes(BODY_CANARY)));
  });

  it('when /.well-known/jwks.json is fetched, then it lists public keys only, each with kid, use and alg', async () => {
    const res = await fetch(`${gw.url}/.well-known/jwks.json`);
    assert.equal(res.status, 200);
    const jwks = (await res.json()) as { keys: Record<string, unknown>[] };
    const uses = jwks.keys.map((k) => `${String(k.use)}:${String(k.alg)}`).sort();
    assert.deepEqual(uses, ['enc:ECDH-ES+A256KW', 'enc:RSA-OAEP-256', 'sig:EdDSA']);
    for (const key of jwks.keys) {
      assert.equal(typeof key.kid, 'string');
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(key[member], undefined, `no private member ${member}`);
    }
  });
});
