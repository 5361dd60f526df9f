import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPair, privateJwk, type Jwk, type KeyManagementAlg, type SignatureAlg } from '../../src/jose/index.js';
import { createBackOffice } from '../../src/back-office/back-office.js';
import { GatewayKeyError, loadGatewayKeys } from '../../src/secure/gateway-keys.js';
import { testLogger } from '../support/log-capture.js';
import { clientFor, createTestProject, echoHandlers, startTestGateway, testKeyPair, type TestGateway } from '../support/partner.js';
import { testConfig } from '../support/test-config.js';
import { testStore } from '../support/test-store.js';

const STAFF = { staff: 'tests', via: 'cli' as const, requestId: 'gateway-keys' };

async function privateKeyJwk(alg: KeyManagementAlg | SignatureAlg, kid: string): Promise<Jwk> {
  const { privateKey } = await generateKeyPair(alg);
  return { ...privateJwk(privateKey), kid, alg };
}

const urlOf = (input: Parameters<typeof fetch>[0]): string => (typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);

describe('gateway keys', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-keys-test-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('when none are configured in development, then they are generated once (0600 files), and two starts racing agree', async () => {
    const config = testConfig({ GATEWAY_KEYS_DIR: path.join(dir, 'keys') });
    const [first, second] = await Promise.all([loadGatewayKeys(config, testLogger), loadGatewayKeys(config, testLogger)]);
    assert.deepEqual([...first.decryptionKeys.keys()], [...second.decryptionKeys.keys()]);
    assert.equal(first.signingKey.kid, second.signingKey.kid);
    assert.deepEqual([...first.decryptionKeys.values()].map((k) => k.alg).sort(), ['ECDH-ES+A256KW', 'RSA-OAEP-256']);
    assert.equal(first.signingKey.alg, 'EdDSA');
    for (const file of ['encryption-keys.jwks.json', 'signing-keys.jwks.json']) {
      assert.equal((await stat(path.join(dir, 'keys', file))).mode & 0o777, 0o600, file);
    }
    assert.equal((await stat(path.join(dir, 'keys'))).mode & 0o777, 0o700);
    const again = await loadGatewayKeys(config, testLogger);
    assert.equal(again.signingKey.kid, first.signingKey.kid, 'a restart keeps the keys');
  });

  it('when keys are configured inline (JWKS) or as file: PEM, then they load with their kids or RFC 7638 thumbprints', async () => {
    const rsa = await privateKeyJwk('RSA-OAEP-256', 'enc-2026-11');
    const ec = await privateKeyJwk('ECDH-ES+A256KW', 'enc-ec-1');
    const sig = await privateKeyJwk('ES256', 'sig-1');
    const inline = await loadGatewayKeys(
      testConfig({ GATEWAY_ENCRYPTION_KEYS: JSON.stringify({ keys: [rsa, ec] }), GATEWAY_SIGNING_KEY: JSON.stringify(sig) }),
      testLogger,
    );
    assert.deepEqual([...inline.decryptionKeys.keys()], ['enc-2026-11', 'enc-ec-1']);
    assert.equal(inline.signingKey.kid, 'sig-1');
    assert.deepEqual(inline.jwks.keys.map((k) => [k.kid, k.use, k.alg]), [
      ['enc-2026-11', 'enc', 'RSA-OAEP-256'],
      ['enc-ec-1', 'enc', 'ECDH-ES+A256KW'],
      ['sig-1', 'sig', 'ES256'],
    ]);
    assert.ok(inline.jwks.keys.every((k) => k.d === undefined));

    const encPem = (await generateKeyPair('RSA-OAEP-256')).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const sigPem = (await generateKeyPair('EdDSA')).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    await writeFile(path.join(dir, 'enc.pem'), encPem, { mode: 0o600 });
    await writeFile(path.join(dir, 'sig.pem'), sigPem, { mode: 0o600 });
    const fromFiles = await loadGatewayKeys(
      testConfig({ GATEWAY_ENCRYPTION_KEYS: `file:${path.join(dir, 'enc.pem')}`, GATEWAY_SIGNING_KEY: `file:${path.join(dir, 'sig.pem')}` }),
      testLogger,
    );
    const [kid] = [...fromFiles.decryptionKeys.keys()];
    assert.match(kid!, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(fromFiles.decryptionKeys.get(kid!)!.alg, 'RSA-OAEP-256');
    assert.equal(fromFiles.signingKey.alg, 'EdDSA');
  });

  it('when a configured key is weak, of the wrong type or unreadable, then loading fails naming the variable and no key material', async () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'jwk' });
    const cases: [Record<string, string>, RegExp][] = [
      [{ GATEWAY_ENCRYPTION_KEYS: JSON.stringify({ ...(await privateKeyJwk('ES256', 'x')), alg: 'RSA1_5' }) }, /GATEWAY_ENCRYPTION_KEYS: key #1: alg RSA1_5/],
      [{ GATEWAY_SIGNING_KEY: JSON.stringify(await privateKeyJwk('PS256', 'rsa-sig')) }, /GATEWAY_SIGNING_KEY: key #1: alg PS256 is not one of EdDSA, ES256/],
      [{ GATEWAY_ENCRYPTION_KEYS: 'not a key' }, /GATEWAY_ENCRYPTION_KEYS: expected a JWK, a JWKS or PEM/],
      [{ GATEWAY_ENCRYPTION_KEYS: `file:${path.join(dir, 'missing.pem')}` }, /GATEWAY_ENCRYPTION_KEYS: cannot read .*missing\.pem \(ENOENT\)/],
      [{ GATEWAY_ENCRYPTION_KEYS: JSON.stringify({ keys: [await privateKeyJwk('RSA-OAEP-256', 'same'), await privateKeyJwk('ECDH-ES+A256KW', 'same')] }) }, /kid same appears twice/],
    ];
    cases.push([{ GATEWAY_ENCRYPTION_KEYS: JSON.stringify({ ...weak, alg: 'RSA-OAEP-256' }) }, /at least 2048 bits/]);
    for (const [env, message] of cases) {
      await assert.rejects(loadGatewayKeys(testConfig({ GATEWAY_KEYS_DIR: dir, ...env }), testLogger), (err: Error) => {
        assert.ok(err instanceof GatewayKeyError);
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /"d"|BEGIN|[A-Za-z0-9_-]{60,}/);
        return true;
      });
    }
  });

  describe('rotation', () => {
    const gateways: TestGateway[] = [];
    afterEach(async () => {
      await Promise.all(gateways.splice(0).map((g) => g.close()));
    });

    it('when the gateway rotates its encryption key, then old and new decrypt meanwhile, and a client with a stale JWKS refetches on unknown_key_id', async () => {
      const oldKey = await privateKeyJwk('RSA-OAEP-256', 'gw-enc-old');
      const newKey = await privateKeyJwk('RSA-OAEP-256', 'gw-enc-new');
      const signing = JSON.stringify(await privateKeyJwk('EdDSA', 'gw-sig-1'));
      const start = (keys: Jwk[]) =>
        startTestGateway({ partnerHandlers: echoHandlers(), config: { GATEWAY_ENCRYPTION_KEYS: JSON.stringify({ keys }), GATEWAY_SIGNING_KEY: signing } });

      const before = await start([oldKey]);
      const during = await start([newKey, oldKey]);
      const after = await start([newKey]);
      gateways.push(before, during, after);
      const tp = await createTestProject({ url: before.url });
      const oldJwks = await (await fetch(`${before.url}/.well-known/jwks.json`)).text();

      // A client whose first JWKS fetch returns the pre-rotation JWKS (as a cache would).
      const staleClient = (url: string) => {
        let jwksFetches = 0;
        const staleFetch: typeof fetch = (input, init) => {
          if (urlOf(input).endsWith('/.well-known/jwks.json') && jwksFetches++ === 0) {
            return Promise.resolve(new Response(oldJwks, { headers: { 'content-type': 'application/json' } }));
          }
          return fetch(input, init);
        };
        return { client: clientFor(url, tp.project._id, tp.keys, { fetch: staleFetch }), fetches: () => jwksFetches };
      };

      // Step 1 of the procedure: the new key is published first, the old one still decrypts.
      const meanwhile = staleClient(during.url);
      assert.equal((await meanwhile.client.checkOrder({ order_id: 'o' })).status, 200);
      assert.equal(meanwhile.fetches(), 1, 'the old key still works: no refetch');
      assert.equal((await clientFor(during.url, tp.project._id, tp.keys).checkOrder({ order_id: 'o' })).status, 200);

      // Step 2: the old key is removed; a client still holding it gets unknown_key_id, refetches, succeeds.
      const afterwards = staleClient(after.url);
      assert.equal((await afterwards.client.checkOrder({ order_id: 'o' })).status, 200);
      assert.equal(afterwards.fetches(), 2, 'one refetch after unknown_key_id');
    });

    it('when a project rotates keys, then a new signing key works at once and answers go to the newest encryption key', async () => {
      const gw = await startTestGateway({ partnerHandlers: echoHandlers() });
      gateways.push(gw);
      const tp = await createTestProject({ url: gw.url, signingAlg: 'ES256', encryptionAlg: 'ECDH-ES+A256KW' });
      await tp.client.checkOrder({ order_id: 'o' }); // caches the project's current keys

      const newSigning = await testKeyPair('EdDSA');
      const newEncryption = await testKeyPair('RSA-OAEP-256');
      // Through the back office, as staff would: the gateway's project cache drops its copy at once.
      const office = createBackOffice(testStore().connection).projects;
      await office.addKey(STAFF, tp.project._id, 'signing', { alg: newSigning.alg, jwk: newSigning.publicJwk, kid: newSigning.kid });
      await office.addKey(STAFF, tp.project._id, 'encryption', { alg: newEncryption.alg, jwk: newEncryption.publicJwk, kid: newEncryption.kid });
      const both = clientFor(gw.url, tp.project._id, { signing: newSigning, encryption: newEncryption }, {
        encryptionKeys: [
          { kid: newEncryption.kid, alg: newEncryption.alg, privateKey: newEncryption.privateJwk },
          { kid: tp.keys.encryption.kid, alg: tp.keys.encryption.alg, privateKey: tp.keys.encryption.privateJwk },
        ],
      });
      assert.equal((await both.checkOrder({ order_id: 'o' })).status, 200);
      // The old client signs fine still, but can no longer open answers: they go to the new key.
      await assert.rejects(tp.client.checkOrder({ order_id: 'o' }), /could not be opened/);
    });
  });
});
