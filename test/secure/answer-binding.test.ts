import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { GatewayApiError, GatewayResponseError } from '@card-gateway/client';
import type { PartnerHandlers } from '../../src/partner-api/partner-handler.js';
import { encryptTo, gatewayEncryptionKeys, postRaw, refusedWith, requestClaims, signClaims } from '../support/craft.js';
import { clientFor, createTestProject, echoHandlers, startTestGateway, type TestGateway, type TestProject } from '../support/partner.js';

interface Recorded {
  path: string;
  status: number;
  headers: [string, string][];
  text: string;
}

/**
 * A path-side attacker after TLS: it sees every genuine answer of one project and can hand any of
 * them back in place of another. The client must accept only the answer to the request it sent.
 */
function tamperingFetch() {
  const seen: Recorded[] = [];
  let substitute: ((path: string, real: Recorded) => Recorded) | undefined;
  const wrapped: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const path = new URL(typeof input === 'string' || input instanceof URL ? input : input.url).pathname;
    if (!path.startsWith('/api/')) return response;
    const real: Recorded = { path, status: response.status, headers: [...response.headers], text: await response.text() };
    seen.push(real);
    const sent = substitute ? substitute(path, real) : real;
    return new Response(sent.text, { status: sent.status, headers: sent.headers });
  };
  return {
    fetch: wrapped,
    seen,
    swapWith(fn: ((path: string, real: Recorded) => Recorded) | undefined) {
      substitute = fn;
    },
  };
}

const refusal = (promise: Promise<unknown>) => refusedWith(promise, GatewayResponseError, 'the swapped answer to be refused');

describe('secure channel: answers bound to their request', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  let tp: TestProject;
  const handlers: PartnerHandlers = {
    ...echoHandlers(),
    // A handler that says "replayed", as the order handlers do for a repeated Idempotency-Key.
    createCard: (request) => Promise.resolve({ status: 200, data: { replay_of: request.idempotencyKey }, headers: { 'Idempotent-Replayed': 'true' } }),
  };

  before(async () => {
    gw = await startTestGateway({ partnerHandlers: handlers });
    tp = await createTestProject({ url: gw.url });
  });
  after(() => gw.close());

  it('when the gateway answers, then the sealed payload names the request (jti, htu, body hash), the gateway, the project, the status and the replay flag', async () => {
    const claims = requestClaims(tp, '/api/v1/orders/check');
    const token = await encryptTo(await signClaims(claims, tp.keys.signing), (await gatewayEncryptionKeys(gw.url))['ECDH-ES+A256KW']);
    const raw = await postRaw(gw.url, '/api/v1/orders/check', token);
    const payload = await tp.client.open(raw.text);
    assert.equal(raw.status, 200);
    assert.equal(payload.iss, 'card-gateway');
    assert.equal(payload.aud, tp.project._id);
    assert.equal(payload.req_jti, claims.jti);
    assert.equal(payload.req_htu, '/api/v1/orders/check');
    assert.equal(payload.req_sha256, createHash('sha256').update(token).digest('base64url'));
    assert.equal(payload.status, 200);
    assert.equal(payload.replayed, false);
    assert.ok(typeof payload.iat === 'number' && Math.abs(payload.iat - Date.now() / 1000) < 60);

    const again = await tp.client.open((await postRaw(gw.url, '/api/v1/orders/check', token)).text);
    assert.equal((again.error as { slug: string }).slug, 'replay_detected');
    assert.equal(again.req_sha256, payload.req_sha256, 'a sealed error is bound to its request too');
  });

  it("when another request's genuine answer of the same endpoint is swapped in (user A's card for user B's), then the client refuses it", async () => {
    const t = tamperingFetch();
    const client = clientFor(gw.url, tp.project._id, tp.keys, { fetch: t.fetch });
    const a = await client.getCard({ order_id: 'ord_user_a' });
    assert.deepEqual((a.data as unknown as { body: unknown }).body, { order_id: 'ord_user_a' });
    const answerForA = t.seen.at(-1)!;
    t.swapWith(() => answerForA);
    const err = await refusal(client.getCard({ order_id: 'ord_user_b' }));
    assert.match(err.message, /not bound to this request \(req_sha256/);
  });

  it('when an old answer of another endpoint is handed back as the result of a createCard, then the client refuses it', async () => {
    const t = tamperingFetch();
    const client = clientFor(gw.url, tp.project._id, tp.keys, { fetch: t.fetch });
    await client.checkOrder({ order_id: 'ord_old' });
    const old = t.seen.at(-1)!;
    t.swapWith(() => old);
    await refusal(client.createCard({ product_code: 'p', external_user_id: 'u' }));
  });

  it('when a sealed error of another request is swapped in, then the client refuses it instead of reporting a false slug', async () => {
    const t = tamperingFetch();
    const client = clientFor(gw.url, tp.project._id, tp.keys, { fetch: t.fetch });
    const key = (await gatewayEncryptionKeys(gw.url))['ECDH-ES+A256KW'];
    const token = await encryptTo(await signClaims(requestClaims(tp, '/api/v1/cards/get', { htu: '/api/v1/orders/check' }), tp.keys.signing), key);
    const refusedElsewhere = await postRaw(gw.url, '/api/v1/cards/get', token);
    assert.equal(refusedElsewhere.status, 401);
    t.swapWith(() => ({ path: '/api/v1/cards/get', status: 401, headers: [['content-type', 'application/jose']], text: refusedElsewhere.text }));
    const err = await refusal(client.getCard({ card_id: 'card_x' }));
    assert.ok(!(err instanceof GatewayApiError));
  });

  it('when Idempotent-Replayed is added or removed in transit, then the client reports the flag sealed in the answer', async () => {
    const t = tamperingFetch();
    const client = clientFor(gw.url, tp.project._id, tp.keys, { fetch: t.fetch });
    t.swapWith((_path, real) => ({ ...real, headers: real.headers.filter(([name]) => name !== 'idempotent-replayed') }));
    assert.equal((await client.createCard({ product_code: 'p', external_user_id: 'u' })).idempotentReplayed, true, 'header stripped, seal says replayed');
    t.swapWith((_path, real) => ({ ...real, headers: [...real.headers, ['idempotent-replayed', 'true']] }));
    assert.equal((await client.checkOrder({ order_id: 'o' })).idempotentReplayed, false, 'header added, seal says not replayed');
  });

  it('when the answer is genuine, then the client accepts it', async () => {
    const reply = await tp.client.checkOrder({ order_id: 'ord_ok' });
    assert.equal(reply.status, 200);
    assert.equal(reply.idempotentReplayed, false);
  });
});
