import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { generateKeyPair, privateJwk } from '../../src/jose/index.js';
import { spawnGateway } from '../support/gateway-process.js';
import { simulatorEnv } from '../support/provider-sim.js';
import { uriOf } from '../support/isolated-db.js';
import { testStore } from '../support/test-store.js';

const TOKEN = 'ops-token-0123456789abcdef0123456789abcdef';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

/** Production-shaped settings: real store, own keys, own audience, staff on their own listener. */
async function deploymentEnv(): Promise<Record<string, string>> {
  const enc = (await generateKeyPair('ECDH-ES+A256KW')).privateKey;
  const sig = (await generateKeyPair('EdDSA')).privateKey;
  return {
    NODE_ENV: '',
    MONGODB_URI: uriOf(testStore().connection),
    GATEWAY_ENCRYPTION_KEYS: JSON.stringify({ keys: [{ ...privateJwk(enc), kid: 'prod-enc-1', alg: 'ECDH-ES+A256KW' }] }),
    GATEWAY_SIGNING_KEY: JSON.stringify({ ...privateJwk(sig), kid: 'prod-sig-1', alg: 'EdDSA' }),
    CARD_DATA_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    CARD_DATA_ACTIVE_KEY_ID: 'k1',
    CURSOR_KEYS: `c1:${randomBytes(32).toString('base64url')}`,
    ADMIN_TOKENS: `ops:${TOKEN}`,
    ADMIN_PORT: '0',
    GATEWAY_AUDIENCE: 'card-gateway-test-deployment',
    WORKER_ENABLED: 'false',
    // A real provider's URL, credential and keys (production requires them): the suite's simulator.
    ...simulatorEnv(),
  };
}

describe('deployment: development behaviour only where it is safe', function () {
  this.timeout(90_000);

  it('when nothing is set (a fresh clone), then development defaults apply and nothing is required', () => {
    const c = loadConfig({});
    assert.equal(c.NODE_ENV, 'development');
    assert.equal(c.SANDBOX_SIMULATOR_ENABLED, true);
  });

  it('when MONGODB_URI is set and NODE_ENV is not, then it is production: each missing key, the admin port and the default audience are named', () => {
    const problems = problemsOf({ MONGODB_URI: 'mongodb://db.internal:27017/gw' });
    for (const name of ['GATEWAY_ENCRYPTION_KEYS', 'GATEWAY_SIGNING_KEY', 'CARD_DATA_KEYS', 'CURSOR_KEYS', 'ADMIN_TOKENS', 'ADMIN_PORT', 'GATEWAY_AUDIENCE']) {
      assert.ok(problems.some((p) => p.startsWith(`${name}:`) && p.includes('NODE_ENV is not')), `${name} in ${problems.join(' | ')}`);
    }
    assert.deepEqual(problemsOf({ MONGODB_URI: 'mongodb://db.internal:27017/gw', NODE_ENV: 'development' }), [], 'development stated explicitly');
  });

  it('when production keeps the default audience, then it is refused; its own audience is accepted', async () => {
    const env = await deploymentEnv();
    assert.ok(problemsOf({ ...env, GATEWAY_AUDIENCE: '' }).some((p) => p.startsWith('GATEWAY_AUDIENCE:')));
    assert.deepEqual(problemsOf(env), []);
    assert.equal(loadConfig(env).SANDBOX_SIMULATOR_ENABLED, false);
  });

  it('when TRUST_PROXY is true, then it is refused; a hop count or proxy addresses are accepted', () => {
    assert.ok(problemsOf({ TRUST_PROXY: 'true' }).some((p) => p.startsWith('TRUST_PROXY:') && p.includes('hop count')));
    for (const value of ['false', '1', '2', 'loopback', '10.0.0.1, 10.0.0.2', '10.0.0.0/8']) assert.deepEqual(problemsOf({ TRUST_PROXY: value }), [], value);
  });

  it('when PUBLIC_BASE_URL has a query or credentials, or the headers timeout exceeds the request timeout, then it is refused', () => {
    for (const url of ['https://gw.example/?a=1', 'https://u:p@gw.example', 'ftp://gw.example', 'gw.example']) {
      assert.ok(problemsOf({ PUBLIC_BASE_URL: url }).some((p) => p.startsWith('PUBLIC_BASE_URL:')), url);
    }
    assert.deepEqual(problemsOf({ PUBLIC_BASE_URL: 'https://gw.example:8443/partners' }), []);
    assert.ok(problemsOf({ HTTP_HEADERS_TIMEOUT_MS: '40000' }).some((p) => p.startsWith('HTTP_HEADERS_TIMEOUT_MS:')));
  });

  it('when a process is pointed at a real store with no NODE_ENV and no keys, then it refuses to start, names what is missing, and writes no keys', async () => {
    const keysDir = path.join(await mkdtemp(path.join(os.tmpdir(), 'card-gateway-deploy-')), 'keys');
    try {
      const started = spawnGateway({ NODE_ENV: '', MONGODB_URI: uriOf(testStore().connection), GATEWAY_KEYS_DIR: keysDir });
      const err = await started.then(
        () => assert.fail('the gateway started'),
        (e: unknown) => e as Error,
      );
      assert.match(err.message, /exited with 1 before listening/);
      for (const name of ['GATEWAY_ENCRYPTION_KEYS', 'GATEWAY_SIGNING_KEY', 'CARD_DATA_KEYS', 'ADMIN_TOKENS', 'GATEWAY_AUDIENCE']) assert.match(err.message, new RegExp(`${name}: required|${name}: set`));
      assert.equal(existsSync(keysDir), false, 'no development keys generated');
    } finally {
      await rm(path.dirname(keysDir), { recursive: true, force: true });
    }
  });

  it('when deployed, then staff routes answer only on the admin listener (loopback), partner and sandbox routes only on the partner port', async () => {
    const gw = await spawnGateway(await deploymentEnv());
    try {
      const line = gw.output.find((l) => l.includes('"admin api listening"'));
      assert.ok(line, gw.output.join('\n'));
      const adminUrl = (JSON.parse(line) as { url: string }).url;
      assert.match(adminUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(adminUrl, gw.url);
      const auth = { Authorization: `Bearer ${TOKEN}` };

      assert.equal((await fetch(`${adminUrl}/admin/v1/slugs`, { headers: auth })).status, 200);
      for (const p of ['/admin/v1/slugs', '/admin/v1/orders', '/admin/v1/projects']) {
        const res = await fetch(`${gw.url}${p}`, { headers: auth });
        assert.equal(res.status, 404, `partner port ${p}`);
      }
      // The sandbox simulator is off in a deployment; partner routes are not on the admin listener.
      const post = (url: string) => fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/jose' }, body: 'x' });
      assert.equal((await post(`${gw.url}/api/v1/sandbox/cards/issue`)).status, 404);
      assert.equal((await post(`${gw.url}/api/v1/orders/check`)).status, 401, 'the partner API is there');
      assert.equal((await post(`${adminUrl}/api/v1/orders/check`)).status, 404);
      assert.equal((await fetch(`${adminUrl}/.well-known/jwks.json`)).status, 404);
    } finally {
      gw.child.kill('SIGTERM');
      assert.equal((await gw.exited).code, 0);
    }
  });
});
