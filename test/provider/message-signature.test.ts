import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSigner, createVerifier, httpbis } from 'http-message-signatures';
import { contentDigest, privateKeyFromJwk, signMessage } from '../../src/provider/http/message-signature.js';
import { idempotencyUuid, ProviderClient } from '../../src/provider/http/provider-client.js';
import { SIGNED_WRITE_COMPONENTS } from '../../src/provider/http/wire.js';
import { ProviderError } from '../../src/provider/card-provider.js';
import { linkKeyPair } from '../../src/provider/simulator-process.js';
import { suiteSimulator } from '../support/provider-sim.js';

/** RFC 9421 Appendix B.1.4, test-key-ed25519 (a published test key, never a real one). */
const RFC_KEY = { kty: 'OKP', crv: 'Ed25519', d: 'n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU', x: 'JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs' } as const;
/** RFC 9421 Appendix B.2 test request. */
const RFC_REQUEST = {
  method: 'POST',
  url: 'https://example.com/foo?param=Value&Pet=dog',
  headers: {
    host: 'example.com',
    date: 'Tue, 20 Apr 2021 02:07:55 GMT',
    'content-type': 'application/json',
    'content-digest': 'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
    'content-length': '18',
  },
};
const B26_FIELDS = ['date', '@method', '@path', '@authority', 'content-type', 'content-length'];
const B26_SIGNATURE = 'sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:';

describe('provider link: RFC 9421 signatures and RFC 9530 digests', function () {
  this.timeout(20_000);

  describe('the standards test vectors', () => {
    it('when the RFC 9421 B.2.6 request is signed with test-key-ed25519, then the library gives exactly the RFC signature, and verifies it', async () => {
      const signed = await httpbis.signMessage(
        {
          key: createSigner(createPrivateKey({ key: RFC_KEY, format: 'jwk' }), 'ed25519', 'test-key-ed25519'),
          name: 'sig-b26',
          fields: B26_FIELDS,
          params: ['created', 'keyid'],
          paramValues: { created: new Date(1618884473 * 1000) },
        },
        RFC_REQUEST,
      );
      const headers = signed.headers as Record<string, string>;
      assert.equal(headers['Signature-Input'], 'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"');
      assert.equal(headers.Signature, B26_SIGNATURE);

      const publicKey = createPublicKey(createPrivateKey({ key: RFC_KEY, format: 'jwk' }));
      const verified = await httpbis.verifyMessage(
        { keyLookup: () => Promise.resolve({ id: 'test-key-ed25519', algs: ['ed25519'], verify: createVerifier(publicKey, 'ed25519') }) },
        { ...RFC_REQUEST, headers: { ...RFC_REQUEST.headers, 'signature-input': 'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"', signature: B26_SIGNATURE } },
      );
      assert.equal(verified, true);
    });

    it('when a body is digested, then Content-Digest is the RFC 9530 sha-256 form', () => {
      // RFC 9530 section 2 example body.
      assert.equal(contentDigest('{"hello": "world"}'), 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:');
    });
  });

  describe("the adapter's requests", () => {
    let server: Server;
    let seen: { req: IncomingMessage; body: Buffer }[];
    let answers: number[];
    const [privateJwk, publicJwk] = linkKeyPair();
    let client: ProviderClient;

    before(async () => {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          seen.push({ req, body: Buffer.concat(chunks) });
          const status = answers.shift() ?? 200;
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(status === 200 ? { ok: true } : { code: 'x', message: 'x' }));
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      client = new ProviderClient({
        baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        apiKey: 'k',
        keyId: 'gw-test',
        privateKey: privateKeyFromJwk(privateJwk),
        requestTimeoutMs: 2_000,
        attempts: 3,
        retryBaseMs: 1,
      });
    });
    beforeEach(() => {
      seen = [];
      answers = [];
    });
    after(async () => {
      client.close();
      await new Promise<void>((r) => server.close(() => r()));
    });

    function asMessage({ req }: { req: IncomingMessage }) {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      return { method: req.method!, url: `http://${req.headers.host}${req.url}`, headers };
    }

    it('when the adapter writes, then the library verifier accepts its signature over method, target URI, digest and key, with created and keyid', async () => {
      await client.send('POST', '/v1/accounts', { idempotencyKey: 'ord_1:create-card', body: { reference: 'ch_1', name: 'Cardholder' } });
      const [first] = seen;
      const message = asMessage(first!);
      assert.equal(message.headers['content-digest'], contentDigest(first!.body));
      assert.equal(message.headers.authorization, 'Bearer k');
      assert.equal(message.headers['idempotency-key'], idempotencyUuid('ord_1:create-card'));
      assert.match(message.headers['idempotency-key'], /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.match(message.headers['signature-input']!, /^sig1=\("@method" "@target-uri" "content-digest" "idempotency-key"\);created=\d+;keyid="gw-test";alg="ed25519"$/);
      const verified = await httpbis.verifyMessage(
        {
          keyLookup: (p) => Promise.resolve(p.keyid === 'gw-test' ? { id: 'gw-test', algs: ['ed25519'], verify: createVerifier(createPublicKey({ key: JSON.parse(publicJwk) as Record<string, string>, format: 'jwk' }), 'ed25519') } : null),
          requiredFields: [...SIGNED_WRITE_COMPONENTS],
          requiredParams: ['created', 'keyid'],
          maxAge: 60,
        },
        message,
      );
      assert.equal(verified, true);
    });

    it('when the provider answers 5xx and then 200, then the retry repeats the same Idempotency-Key and body under a fresh signature', async () => {
      answers = [503, 500];
      await client.send('POST', '/v1/cards/c1/load', { idempotencyKey: 'ord_2:topup', body: { amount: 100, currency: 'USD' } });
      assert.equal(seen.length, 3);
      assert.equal(new Set(seen.map((s) => s.req.headers['idempotency-key'])).size, 1);
      assert.equal(new Set(seen.map((s) => s.body.toString())).size, 1);
    });

    it('when the provider answers 4xx (other than 409 in use and 429), then the call fails at once, final', async () => {
      answers = [422];
      const err = await client.send('POST', '/v1/accounts', { idempotencyKey: 'k3', body: {} }).catch((e: unknown) => e);
      assert.ok(err instanceof ProviderError && !err.transient && err.status === 422);
      assert.equal(seen.length, 1);
    });

    it('when every attempt answers 5xx, then after the bounded attempts the failure is transient (the workflow retries later)', async () => {
      answers = [500, 502, 503];
      const err = await client.send('GET', '/v1/cards/x').catch((e: unknown) => e);
      assert.ok(err instanceof ProviderError && err.transient && err.failure === 'unavailable');
      assert.equal(seen.length, 3);
    });
  });

  describe('the simulator checks every request as the platform would', () => {
    async function raw(options: { body?: string; key?: string; mutate?: (h: Record<string, string>) => void; created?: Date; keyId?: string; signingKey?: string; path?: string }) {
      const sim = suiteSimulator();
      const url = `${sim.url}${options.path ?? '/v1/accounts'}`;
      const body = options.body ?? JSON.stringify({ reference: `ref-${randomUUID()}`, name: 'Cardholder' });
      const headers: Record<string, string> = {
        authorization: `Bearer ${sim.apiKey}`,
        'content-type': 'application/json',
        'content-digest': contentDigest(body),
        'idempotency-key': options.key ?? randomUUID(),
      };
      const signed = await signMessage(
        { method: 'POST', url, headers },
        { keyId: options.keyId ?? sim.signingKeyId, privateKey: privateKeyFromJwk(options.signingKey ?? sim.signingKey) },
        SIGNED_WRITE_COMPONENTS,
        options.created,
      );
      options.mutate?.(signed);
      const res = await fetch(url, { method: 'POST', headers: signed, body });
      return { status: res.status, body: (await res.json()) as { code?: string; id?: string } };
    }

    it('when the request is signed right, then it is accepted', async () => {
      assert.equal((await raw({})).status, 201);
    });
    it('when the Content-Digest does not match the body, then 400 content_digest_mismatch', async () => {
      const res = await raw({ mutate: (h) => (h['content-digest'] = contentDigest('{"other":1}')) });
      assert.deepEqual([res.status, res.body.code], [400, 'content_digest_mismatch']);
    });
    it('when a signed header is changed after signing, then 401 signature_invalid', async () => {
      const res = await raw({ mutate: (h) => (h['idempotency-key'] = randomUUID()) });
      assert.deepEqual([res.status, res.body.code], [401, 'signature_invalid']);
    });
    it('when the signature is older than its window, then 401 signature_expired', async () => {
      const res = await raw({ created: new Date(Date.now() - 3_600_000) });
      assert.deepEqual([res.status, res.body.code], [401, 'signature_expired']);
    });
    it('when the keyid is unknown (or the key is another), then 401', async () => {
      const unknown = await raw({ keyId: 'someone-else' });
      assert.deepEqual([unknown.status, unknown.body.code], [401, 'signature_unknown_key']);
      const forged = await raw({ signingKey: linkKeyPair()[0] });
      assert.deepEqual([forged.status, forged.body.code], [401, 'signature_invalid']);
    });
    it('when the bearer credential is wrong, then 401 unauthorized', async () => {
      const res = await raw({ mutate: (h) => (h.authorization = 'Bearer nope') });
      assert.deepEqual([res.status, res.body.code], [401, 'unauthorized']);
    });
    it('when an Idempotency-Key comes again, then the same body gets the same answer and another body is refused', async () => {
      const key = randomUUID();
      const body = JSON.stringify({ reference: `ref-${randomUUID()}`, name: 'Cardholder' });
      const first = await raw({ key, body });
      const again = await raw({ key, body });
      assert.equal(first.status, 201);
      assert.deepEqual(again, first);
      const other = await raw({ key, body: JSON.stringify({ reference: `ref-${randomUUID()}`, name: 'Cardholder' }) });
      assert.deepEqual([other.status, other.body.code], [422, 'idempotency_key_reused']);
    });
  });
});
