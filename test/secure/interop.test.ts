import assert from 'node:assert/strict';
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  randomUUID,
  sign,
  verify,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { cardholderModel } from '../../src/cardholders/cardholder-model.js';
import { cardholderIdFor, newId } from '../../src/ids/ids.js';
import { ProjectRepository } from '../../src/projects/project-repository.js';
import { webhookModels } from '../../src/webhooks/webhook-models.js';
import { waitUntil } from '../support/gateway-process.js';
import { echoHandlers, startTestGateway, type TestGateway } from '../support/partner.js';
import { testStore } from '../support/test-store.js';
import { startReceiver } from '../support/webhook-receiver-process.js';

/**
 * A partner written from RFC 7515/7516/7518 with node:crypto alone (no JOSE library), to show the
 * gateway depends on nothing but the standards: compact serialization, standard header
 * parameters, RSA-OAEP-256 + A256GCM, ES256 or EdDSA signatures.
 */
const b64u = (data: Buffer | string) => Buffer.from(data).toString('base64url');
const fromB64u = (text: string) => Buffer.from(text, 'base64url');

function jwsSign(payload: object, alg: 'ES256' | 'EdDSA', kid: string, key: KeyObject): string {
  const input = `${b64u(JSON.stringify({ alg, kid }))}.${b64u(JSON.stringify(payload))}`;
  const signature = alg === 'ES256' ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }) : sign(null, Buffer.from(input), key);
  return `${input}.${b64u(signature)}`;
}

function jwsVerify(jws: string, keys: Map<string, { alg: string; key: KeyObject }>): unknown {
  const [h, p, s] = jws.split('.') as [string, string, string];
  const header = JSON.parse(fromB64u(h).toString()) as { alg: string; kid: string };
  const entry = keys.get(header.kid);
  assert.ok(entry, 'the response names a key of the gateway JWKS');
  assert.equal(header.alg, entry.alg);
  const input = Buffer.from(`${h}.${p}`);
  const ok =
    header.alg === 'ES256'
      ? verify('sha256', input, { key: entry.key, dsaEncoding: 'ieee-p1363' }, fromB64u(s))
      : header.alg === 'EdDSA' && verify(null, input, entry.key, fromB64u(s));
  assert.ok(ok, 'the gateway signature verifies');
  return JSON.parse(fromB64u(p).toString());
}

const OAEP = (key: KeyObject) => ({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' });

function jweEncrypt(plaintext: string, kid: string, recipient: KeyObject): string {
  const header = b64u(JSON.stringify({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid, cty: 'JWT' }));
  const cek = randomBytes(32);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', cek, iv).setAAD(Buffer.from(header, 'ascii'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [header, b64u(publicEncrypt(OAEP(recipient), cek)), b64u(iv), b64u(ciphertext), b64u(cipher.getAuthTag())].join('.');
}

function jweDecrypt(jwe: string, kid: string, key: KeyObject): string {
  const [h, ek, iv, ct, tag] = jwe.split('.') as [string, string, string, string, string];
  const header = JSON.parse(fromB64u(h).toString()) as Record<string, unknown>;
  assert.equal(header.alg, 'RSA-OAEP-256');
  assert.equal(header.enc, 'A256GCM');
  assert.equal(header.kid, kid);
  const cek = privateDecrypt(OAEP(key), fromB64u(ek));
  const decipher = createDecipheriv('aes-256-gcm', cek, fromB64u(iv)).setAAD(Buffer.from(h, 'ascii'));
  decipher.setAuthTag(fromB64u(tag));
  return Buffer.concat([decipher.update(fromB64u(ct)), decipher.final()]).toString('utf8');
}

describe('secure channel: interoperability with a partner using node:crypto only', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ partnerHandlers: echoHandlers() });
  });
  after(() => gw.close());

  for (const signingAlg of ['ES256', 'EdDSA'] as const) {
    it(`when a hand-written partner signs with ${signingAlg} and encrypts with RSA-OAEP-256/A256GCM, then it gets a 200 it can decrypt and verify itself`, async () => {
      // The partner's keys, registered by their public JWKs.
      const signing = signingAlg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
      const encryption = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const projectId = newId('prj');
      const now = new Date();
      await new ProjectRepository(testStore().connection).insert({
        _id: projectId,
        name: 'Interop partner',
        status: 'active',
        currency: 'USD',
        signing_keys: [{ kid: 'interop-sig-1', alg: signingAlg, jwk: signing.publicKey.export({ format: 'jwk' }), status: 'active', created_at: now }],
        encryption_keys: [{ kid: 'interop-enc-1', alg: 'RSA-OAEP-256', jwk: encryption.publicKey.export({ format: 'jwk' }), status: 'active', created_at: now }],
      });

      // The gateway's keys, from its JWKS.
      const jwks = (await (await fetch(`${gw.url}/.well-known/jwks.json`)).json()) as { keys: (JsonWebKey & { kid: string; use: string; alg: string })[] };
      const gwEnc = jwks.keys.find((k) => k.use === 'enc' && k.alg === 'RSA-OAEP-256')!;
      const gwSig = new Map(jwks.keys.filter((k) => k.use === 'sig').map((k) => [k.kid, { alg: k.alg, key: createPublicKey({ key: k, format: 'jwk' }) }]));

      const path = '/api/v1/cards/create';
      const claims = {
        iss: projectId,
        aud: 'card-gateway',
        iat: Math.floor(Date.now() / 1000),
        jti: randomUUID(),
        htm: 'POST',
        htu: path,
        idk: 'interop-key-0001',
        body: { external_user_id: 'user-1', product_code: 'VIRTUAL_USD', initial_balance: '25.00' },
      };
      const token = jweEncrypt(jwsSign(claims, signingAlg, 'interop-sig-1', signing.privateKey), gwEnc.kid, createPublicKey({ key: gwEnc, format: 'jwk' }));

      const res = await fetch(`${gw.url}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/jose', 'Idempotency-Key': 'interop-key-0001' },
        body: token,
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/jose');
      const payload = jwsVerify(jweDecrypt(await res.text(), 'interop-enc-1', encryption.privateKey), gwSig);
      // What docs/secure-channel.md tells other libraries to check: the answer names this request.
      const { iat, ...bound } = payload as { iat: number };
      assert.ok(Math.abs(iat - Date.now() / 1000) < 60);
      assert.deepEqual(bound, {
        data: { endpoint: 'createCard', body: claims.body, idempotency_key: 'interop-key-0001', project_id: projectId },
        iss: 'card-gateway',
        aud: projectId,
        req_jti: claims.jti,
        req_htu: path,
        req_sha256: createHash('sha256').update(token).digest('base64url'),
        status: 200,
        replayed: false,
      });

      // The same token again is a replay: the sealed refusal opens with node:crypto too.
      const replay = await fetch(`${gw.url}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/jose', 'Idempotency-Key': 'interop-key-0001' },
        body: token,
      });
      assert.equal(replay.status, 401);
      const refusal = jwsVerify(jweDecrypt(await replay.text(), 'interop-enc-1', encryption.privateKey), gwSig) as { error: { slug: string } };
      assert.equal(refusal.error.slug, 'replay_detected');
    });
  }

  it('when a hand-written partner receives a webhook event, then it decrypts and verifies it itself and finds in the seal what docs/partner-api.md tells it to check', async () => {
    const webhooks = await startTestGateway({ config: { WEBHOOK_POLL_MS: '50', WEBHOOK_RETRY_BASE_MS: '20', WEBHOOK_RETRY_MAX_MS: '200' } });
    const receiver = await startReceiver({});
    try {
      await webhooks.gateway.start();
      const encryption = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const projectId = newId('prj');
      const now = new Date();
      await new ProjectRepository(testStore().connection).insert({
        _id: projectId,
        name: 'Interop receiver',
        status: 'active',
        currency: 'USD',
        signing_keys: [],
        encryption_keys: [{ kid: 'interop-enc-2', alg: 'RSA-OAEP-256', jwk: encryption.publicKey.export({ format: 'jwk' }), status: 'active', created_at: now }],
      });
      await webhookModels(testStore().connection).endpoints.create({ _id: projectId, url: receiver.url, status: 'active' });
      // A verdict on a cardholder: the outbox turns it into a cardholder.verified event.
      const later = new Date(Date.now() + 1000);
      await cardholderModel(testStore().connection).create({ _id: cardholderIdFor(projectId, 'u-1'), project_id: projectId, external_user_id: 'u-1', verification_status: 'verified', verified_at: later, created_at: later, updated_at: later });
      await waitUntil(async () => (await receiver.received()).some((r) => r.answer === 'ok'), 30_000, 'an event delivered');
      const delivered = (await receiver.received()).find((r) => r.answer === 'ok')!;

      const jwks = (await (await fetch(`${webhooks.url}/.well-known/jwks.json`)).json()) as { keys: (JsonWebKey & { kid: string; use: string; alg: string })[] };
      const gwSig = new Map(jwks.keys.filter((k) => k.use === 'sig').map((k) => [k.kid, { alg: k.alg, key: createPublicKey({ key: k, format: 'jwk' }) }]));
      const sealed = jwsVerify(jweDecrypt(delivered.body, 'interop-enc-2', encryption.privateKey), gwSig) as Record<string, unknown> & { event: Record<string, unknown> };
      assert.equal(sealed.kind, 'webhook_event');
      assert.equal(sealed.iss, 'card-gateway');
      assert.equal(sealed.aud, projectId);
      assert.ok(typeof sealed.iat === 'number' && Math.abs(sealed.iat - Date.now() / 1000) < 60);
      assert.deepEqual([sealed.event.id, sealed.event.type, sealed.event.project_id], [delivered.id, delivered.type, projectId]);
      assert.equal(delivered.type, 'cardholder.verified');
    } finally {
      await webhookModels(testStore().connection).endpoints.deleteMany({ url: receiver.url });
      await receiver.stop();
      await webhooks.close();
    }
  });
});
