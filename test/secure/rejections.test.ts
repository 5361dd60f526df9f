import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { GatewayApiError } from '@card-gateway/client';
import type { EncryptionKey, KeyManagementAlg } from '../../src/jose/index.js';
import { createBackOffice } from '../../src/back-office/back-office.js';
import {
  b64u,
  encryptTo,
  gatewayEncryptionKeys,
  postRaw,
  readAnswer,
  requestClaims,
  signClaims,
  type RawAnswer,
} from '../support/craft.js';
import { BODY_CANARY } from '../support/log-audit.js';
import { createTestProject, echoHandlers, startTestGateway, type TestGateway, type TestProject } from '../support/partner.js';
import { testStore } from '../support/test-store.js';

const STAFF = { staff: 'tests', via: 'cli' as const, requestId: 'rejections' };

const CHECK = '/api/v1/orders/check';
const CREATE = '/api/v1/cards/create';

describe('secure channel: every refusal from a real crafted request', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  let tp: TestProject;
  let other: TestProject;
  let gwKeys: Record<KeyManagementAlg, EncryptionKey>;

  const replayEntries = () => testStore().connection.collection('replay_cache').countDocuments({});

  before(async () => {
    gw = await startTestGateway({ partnerHandlers: echoHandlers(), config: { PUBLIC_BASE_URL: 'https://gateway.example' } });
    tp = await createTestProject({ url: gw.url, signingAlg: 'ES256', encryptionAlg: 'RSA-OAEP-256' });
    other = await createTestProject({ url: gw.url, signingAlg: 'ES256' });
    gwKeys = await gatewayEncryptionKeys(gw.url);
  });
  after(() => gw.close());

  async function seal(claims: Record<string, unknown>, alg: KeyManagementAlg = 'RSA-OAEP-256'): Promise<string> {
    return encryptTo(await signClaims(claims, tp.keys.signing), gwKeys[alg]);
  }

  /** A refusal before authentication: plain JSON with exactly slug, message, request_id, and no input echoed. */
  async function expectPlain(answer: RawAnswer, status: number, slug: string, sent?: string): Promise<void> {
    assert.equal(answer.status, status, answer.text);
    assert.match(answer.contentType, /^application\/json/);
    const read = await readAnswer(answer);
    assert.equal(read.slug, slug);
    const error = read.payload.error as Record<string, unknown>;
    assert.deepEqual(Object.keys(error).sort(), ['message', 'request_id', 'slug']);
    assert.equal(error.request_id, answer.requestId);
    if (sent) {
      assert.ok(!answer.text.includes(sent.slice(0, 40)), 'the answer echoes no part of the input');
      for (const segment of sent.split('.')) if (segment.length > 8) assert.ok(!answer.text.includes(segment));
    }
    assert.ok(!answer.text.includes(BODY_CANARY));
  }

  /** A refusal after authentication: sealed to the project, signed by the gateway. */
  async function expectSealed(answer: RawAnswer, status: number, slug: string, project = tp): Promise<void> {
    assert.equal(answer.status, status, answer.text);
    assert.equal(answer.contentType, 'application/jose');
    const read = await readAnswer(answer, project);
    assert.equal(read.slug, slug);
  }

  async function refusedBeforeAuth(token: string, status: number, slug: string, path = CHECK): Promise<void> {
    const before = await replayEntries();
    await expectPlain(await postRaw(gw.url, path, token), status, slug, token);
    assert.equal(await replayEntries(), before, 'nothing stored');
  }

  it('when the JWE names a kid the gateway does not have, then 401 unknown_key_id', async () => {
    const token = await encryptTo(await signClaims(requestClaims(tp, CHECK), tp.keys.signing), gwKeys['RSA-OAEP-256'], 'no-such-key');
    await refusedBeforeAuth(token, 401, 'unknown_key_id');
  });

  for (const [name, index] of [['encrypted key', 1], ['ciphertext', 3], ['authentication tag', 4]] as const) {
    for (const alg of ['RSA-OAEP-256', 'ECDH-ES+A256KW'] as const) {
      it(`when the ${name} of a ${alg} JWE is tampered with, then 401 invalid_encryption`, async () => {
        const segments = (await seal(requestClaims(tp, CHECK), alg)).split('.');
        const bytes = Buffer.from(segments[index]!, 'base64url');
        bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
        segments[index] = bytes.toString('base64url');
        await refusedBeforeAuth(segments.join('.'), 401, 'invalid_encryption');
      });
    }
  }

  it('when the protected header (the AAD) is changed, then 401 invalid_encryption', async () => {
    const segments = (await seal(requestClaims(tp, CHECK), 'ECDH-ES+A256KW')).split('.');
    const header = JSON.parse(Buffer.from(segments[0]!, 'base64url').toString()) as Record<string, unknown>;
    await refusedBeforeAuth([b64u({ ...header, cty: 'json' }), ...segments.slice(1)].join('.'), 401, 'invalid_encryption');
  });

  it('when the JWE alg is none, dir or anything off the allow-list, then 401 unsupported_algorithm before any decryption', async () => {
    const key = randomBytes(32);
    const iv = randomBytes(12);
    // A genuine `dir` JWE (RFC 7516 A.3 style, AES-256-GCM under a shared key the gateway never had).
    const dirHeader = b64u({ alg: 'dir', enc: 'A256GCM', kid: gwKeys['RSA-OAEP-256'].kid });
    const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(dirHeader));
    const ciphertext = Buffer.concat([cipher.update(await signClaims(requestClaims(tp, CHECK), tp.keys.signing)), cipher.final()]);
    await refusedBeforeAuth(`${dirHeader}..${b64u(iv)}.${b64u(ciphertext)}.${b64u(cipher.getAuthTag())}`, 401, 'unsupported_algorithm');

    const valid = (await seal(requestClaims(tp, CHECK))).split('.');
    for (const header of [
      { alg: 'none', enc: 'A256GCM', kid: gwKeys['RSA-OAEP-256'].kid },
      { alg: 'RSA1_5', enc: 'A256GCM', kid: gwKeys['RSA-OAEP-256'].kid },
      { alg: 'RSA-OAEP', enc: 'A256GCM', kid: gwKeys['RSA-OAEP-256'].kid },
      { alg: 'A256KW', enc: 'A256GCM', kid: gwKeys['RSA-OAEP-256'].kid },
      { alg: 'PBES2-HS512+A256KW', enc: 'A256GCM', kid: gwKeys['RSA-OAEP-256'].kid, p2c: 10_000_000, p2s: 'AAAAAAAAAAA' },
      { alg: 'RSA-OAEP-256', enc: 'A128GCM', kid: gwKeys['RSA-OAEP-256'].kid },
      { alg: 'RSA-OAEP-256', enc: 'A256CBC-HS512', kid: gwKeys['RSA-OAEP-256'].kid },
      { alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: gwKeys['RSA-OAEP-256'].kid, zip: 'DEF' },
      { alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: gwKeys['RSA-OAEP-256'].kid, crit: ['exp'], exp: 1 },
      { enc: 'A256GCM', kid: gwKeys['RSA-OAEP-256'].kid },
    ]) {
      await refusedBeforeAuth([b64u(header), ...valid.slice(1)].join('.'), 401, 'unsupported_algorithm');
    }
  });

  it('when the inner JWS uses alg none or HS256, then 401 unsupported_algorithm', async () => {
    const claims = b64u(requestClaims(tp, CHECK));
    const none = `${b64u({ alg: 'none', kid: tp.keys.signing.kid })}.${claims}.`;
    await refusedBeforeAuth(await encryptTo(none, gwKeys['RSA-OAEP-256']), 401, 'unsupported_algorithm');
    const hs = `${b64u({ alg: 'HS256', kid: tp.keys.signing.kid })}.${claims}.${b64u(randomBytes(32))}`;
    await refusedBeforeAuth(await encryptTo(hs, gwKeys['RSA-OAEP-256']), 401, 'unsupported_algorithm');
  });

  it('when the plaintext is not a JWS (JSON, text, bytes, a JWE), then 401 invalid_signature', async () => {
    for (const plaintext of [JSON.stringify(requestClaims(tp, CHECK)), 'hello', randomBytes(64), await seal(requestClaims(tp, CHECK))]) {
      await refusedBeforeAuth(await encryptTo(plaintext, gwKeys['RSA-OAEP-256']), 401, 'invalid_signature');
    }
  });

  it("when the token is signed by another project's key, under its kid or under this project's kid, then 401 invalid_signature", async () => {
    const claims = requestClaims(tp, CHECK);
    await refusedBeforeAuth(await encryptTo(await signClaims(claims, other.keys.signing), gwKeys['RSA-OAEP-256']), 401, 'invalid_signature');
    await refusedBeforeAuth(
      await encryptTo(await signClaims(claims, other.keys.signing, tp.keys.signing.kid), gwKeys['RSA-OAEP-256']),
      401,
      'invalid_signature',
    );
  });

  it('when iss names no project, then 401 unknown_project', async () => {
    await refusedBeforeAuth(await seal(requestClaims(tp, CHECK, { iss: 'prj_nobody' })), 401, 'unknown_project');
    await refusedBeforeAuth(await seal(requestClaims(tp, CHECK, { iss: 42 })), 401, 'unknown_project');
  });

  it('when the signing key is retired, then 401 invalid_signature (the change applies at once)', async () => {
    const retiring = await createTestProject({ url: gw.url, signingAlg: 'EdDSA' });
    await retiring.client.checkOrder({ order_id: 'ord_1' });
    // Through the back office, as staff would: the gateway's project cache drops its copy at once.
    await createBackOffice(testStore().connection).projects.retireKey(STAFF, retiring.project._id, 'signing', retiring.keys.signing.kid, true);
    const err = await retiring.client.checkOrder({ order_id: 'ord_1' }).then(
      () => assert.fail('a retired key must not verify'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof GatewayApiError);
    assert.equal(err.slug, 'invalid_signature');
    assert.equal(err.sealed, false);
  });

  it('when the project is disabled, then 403 project_disabled, and nothing is stored', async () => {
    const disabled = await createTestProject({ url: gw.url, status: 'disabled' });
    const before = await replayEntries();
    const token = await encryptTo(
      await signClaims(requestClaims(disabled, CHECK), disabled.keys.signing),
      gwKeys['RSA-OAEP-256'],
    );
    await expectPlain(await postRaw(gw.url, CHECK, token), 403, 'project_disabled', token);
    assert.equal(await replayEntries(), before);
  });

  it('when iat is older than the window or too far ahead, then 401 request_expired (sealed: the sender is known)', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const iat of [now - 121 - 5, now + 121 + 5, '1700000000', null]) {
      const before = await replayEntries();
      await expectSealed(await postRaw(gw.url, CHECK, await seal(requestClaims(tp, CHECK, { iat }))), 401, 'request_expired');
      assert.equal(await replayEntries(), before, 'an expired token leaves no jti behind');
    }
    // Inside the window on both sides: accepted.
    for (const iat of [now - 100, now + 100]) {
      const read = await readAnswer(await postRaw(gw.url, CHECK, await seal(requestClaims(tp, CHECK, { iat }))), tp);
      assert.equal(read.status, 200);
    }
  });

  it('when a jti is replayed, also concurrently, then exactly one request is accepted and the others get 401 replay_detected', async () => {
    const token = await seal(requestClaims(tp, CHECK));
    assert.equal((await postRaw(gw.url, CHECK, token)).status, 200);
    await expectSealed(await postRaw(gw.url, CHECK, token), 401, 'replay_detected');

    const claims = requestClaims(tp, CHECK);
    const racing = await seal(claims);
    const answers = await Promise.all(Array.from({ length: 12 }, () => postRaw(gw.url, CHECK, racing)));
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, ...Array<number>(11).fill(401)]);
    for (const answer of answers.filter((a) => a.status === 401)) await expectSealed(answer, 401, 'replay_detected');
    const stored = await testStore().connection.collection('replay_cache').countDocuments({ project_id: tp.project._id, jti: claims.jti });
    assert.equal(stored, 1);
  });

  it('when htu names another route, htm another method or aud another audience, then 401 request_binding_mismatch', async () => {
    for (const overrides of [
      { htu: '/api/v1/cards/get' },
      { htu: `https://gateway.example${CREATE}` },
      // A foreign scheme, host or port with the right path (issue 15 point 5).
      { htu: `http://evil${CHECK}` },
      { htu: `https://evil.example${CHECK}` },
      { htu: `http://gateway.example${CHECK}` },
      { htu: `https://gateway.example:8443${CHECK}` },
      { htu: `https://user@gateway.example${CHECK}` },
      { htu: '/API/V1/ORDERS/CHECK' },
      { htu: `${CHECK}?x=1` },
      { htm: 'GET' },
      { aud: 'another-gateway' },
      { jti: 12345 },
    ]) {
      await expectSealed(await postRaw(gw.url, CHECK, await seal(requestClaims(tp, CHECK, overrides))), 401, 'request_binding_mismatch');
    }
    // The whole public URL of this endpoint is the same binding (default port spelled or not).
    for (const htu of [`https://gateway.example${CHECK}`, `https://GATEWAY.example:443${CHECK}`]) {
      assert.equal((await postRaw(gw.url, CHECK, await seal(requestClaims(tp, CHECK, { htu })))).status, 200, htu);
    }
  });

  it('when PUBLIC_BASE_URL is not configured, then an absolute htu is refused and the path alone is accepted', async () => {
    const bare = await startTestGateway({ partnerHandlers: echoHandlers() });
    try {
      const key = (await gatewayEncryptionKeys(bare.url))['ECDH-ES+A256KW'];
      const send = async (htu: string) => postRaw(bare.url, CHECK, await encryptTo(await signClaims(requestClaims(tp, CHECK, { htu }), tp.keys.signing), key));
      await expectSealed(await send(`https://gateway.example${CHECK}`), 401, 'request_binding_mismatch');
      assert.equal((await send(CHECK)).status, 200);
    } finally {
      await bare.close();
    }
  });

  it('when idk differs from the Idempotency-Key header, or one of them is missing, then 401 request_binding_mismatch', async () => {
    const cases: [Record<string, unknown>, Record<string, string>][] = [
      [{ idk: 'key-aaaa-0001' }, { 'Idempotency-Key': 'key-bbbb-0002' }],
      [{ idk: 'key-aaaa-0001' }, {}],
      [{}, { 'Idempotency-Key': 'key-aaaa-0001' }],
      [{ idk: 1 }, { 'Idempotency-Key': '1' }],
    ];
    for (const [claims, headers] of cases) {
      await expectSealed(await postRaw(gw.url, CREATE, await seal(requestClaims(tp, CREATE, claims)), headers), 401, 'request_binding_mismatch');
    }
    const ok = await postRaw(gw.url, CREATE, await seal(requestClaims(tp, CREATE, { idk: 'key-aaaa-0001' })), { 'Idempotency-Key': 'key-aaaa-0001' });
    assert.equal(ok.status, 200);
  });

  it('when the body is larger than the limit, then 413 payload_too_large; when it is not application/jose, then 415', async () => {
    const big = await postRaw(gw.url, CHECK, 'a'.repeat(64 * 1024 + 1));
    await expectPlain(big, 413, 'payload_too_large');
    for (const type of ['application/json', 'text/plain', 'application/jose+json', 'multipart/form-data; boundary=x']) {
      await expectPlain(await postRaw(gw.url, CHECK, await seal(requestClaims(tp, CHECK)), { 'Content-Type': type }), 415, 'unsupported_media_type');
    }
    const res = await fetch(`${gw.url}${CHECK}`, { method: 'POST', body: 'x' });
    assert.equal(res.status, 415);
    const gzip = await postRaw(gw.url, CHECK, await seal(requestClaims(tp, CHECK)), { 'Content-Encoding': 'gzip' });
    await expectPlain(gzip, 415, 'unsupported_media_type');
  });
});
