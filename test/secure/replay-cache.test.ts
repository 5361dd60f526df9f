import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { ReplayCache, replayCacheModel } from '../../src/secure/replay-cache.js';
import { encryptTo, gatewayEncryptionKeys, postRaw, readAnswer, requestClaims, signClaims } from '../support/craft.js';
import { testLogger } from '../support/log-capture.js';
import { createTestProject, echoHandlers, startTestGateway, type TestGateway, type TestProject } from '../support/partner.js';
import { testStore } from '../support/test-store.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CHECK = '/api/v1/orders/check';

async function sealed(tp: TestProject, url: string, iatMs: number): Promise<{ token: string; jti: string }> {
  const claims = requestClaims(tp, CHECK, { iat: Math.floor(iatMs / 1000) });
  const key = (await gatewayEncryptionKeys(url))['ECDH-ES+A256KW'];
  return { token: await encryptTo(await signClaims(claims, tp.keys.signing), key), jti: claims.jti as string };
}

async function waitUntil(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting until ${what}`);
}

describe('replay cache', function () {
  this.timeout(60_000);
  const collection = () => testStore().connection.collection('replay_cache');
  // The gateway builds its indexes at start; this test uses the cache without a gateway.
  before(() => replayCacheModel(testStore().connection).createIndexes());

  it('when a window and the skew margin have passed, then the next request sweeps entries no instance accepts any more, and keeps the others', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const cache = new ReplayCache(testStore().connection, { windowMs: 120_000, skewMarginMs: 30_000, logger: testLogger, now: () => now });
    const project = `prj_sweep_${randomUUID()}`;
    const iat = () => Math.floor(now / 1000);

    assert.equal(await cache.remember(project, 'old-1', iat()), true);
    assert.equal(await cache.remember(project, 'old-1', iat()), false, 'a replay is refused');
    now += 100_000;
    assert.equal(await cache.remember(project, 'recent-1', iat()), true);
    now += 30_000; // old-1 is 130 s old: outside the window but inside window + margin
    assert.equal(await cache.remember(project, 'trigger-1', iat()), true);
    const left = async () => (await collection().find({ project_id: project }).toArray()).map((d) => d.jti as string).sort();
    await cache.sweep();
    assert.deepEqual(await left(), ['old-1', 'recent-1', 'trigger-1'], 'the margin keeps old-1');

    now += 125_000; // old-1 is 255 s old: past window + margin (150 s); recent-1 155 s: past too
    assert.equal(await cache.remember(project, 'trigger-2', iat()), true);
    // The sweep runs in the background of the request that notices it is due: wait for it.
    await waitUntil(async () => !(await left()).includes('old-1'), 'the sweep ran');
    assert.deepEqual(await left(), ['trigger-1', 'trigger-2']);

    now += 10 * 60_000;
    assert.ok((await cache.sweep()) >= 2, 'both remaining entries have expired');
    assert.deepEqual(await left(), []);
  });

  it('when two gateway instances receive the same token at once, then exactly one accepts it', async () => {
    const a = await startTestGateway({ partnerHandlers: echoHandlers() });
    const b = await startTestGateway({ partnerHandlers: echoHandlers() });
    try {
      const tp = await createTestProject({ url: a.url });
      const { token, jti } = await sealed(tp, a.url, Date.now());
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => postRaw(i % 2 ? a.url : b.url, CHECK, token)));
      assert.deepEqual(answers.map((x) => x.status).sort(), [200, ...Array<number>(9).fill(401)]);
      assert.equal(await collection().countDocuments({ project_id: tp.project._id, jti }), 1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  /**
   * Instance A's clock runs 2 s ahead of B's. B accepts a token; later A, sweeping by its own clock,
   * must not delete the entry while B still accepts the token's iat. With no margin it does, and B
   * accepts the replay: the case shows the test can tell the two apart.
   */
  for (const { margin, replay } of [
    { margin: undefined, replay: 401 },
    { margin: '0', replay: 200 },
  ]) {
    it(`when instances' clocks differ by 2 s and the skew margin is ${margin ?? 'the default (30 s)'}, then a replay to the slower one late in the window is ${replay === 401 ? 'refused' : 'accepted (the hazard)'}`, async () => {
      const windowS = 5;
      // A whole second, so iat (whole seconds) is exactly t and the window arithmetic below is exact.
      let t = Math.floor(Date.now() / 1000) * 1000;
      const config = { REQUEST_MAX_AGE_S: String(windowS), ...(margin !== undefined && { REPLAY_CLOCK_SKEW_MS: margin }) };
      const fast: TestGateway = await startTestGateway({ partnerHandlers: echoHandlers(), config, now: () => t + 2000 });
      const slow: TestGateway = await startTestGateway({ partnerHandlers: echoHandlers(), config, now: () => t });
      try {
        const tp = await createTestProject({ url: slow.url });
        t += 1000;
        const original = await sealed(tp, slow.url, t);
        assert.equal((await postRaw(slow.url, CHECK, original.token)).status, 200);

        // Late in the window for the slow instance (4.5 s of 5), past it for the fast one: a request
        // to the fast instance is due to sweep. A long-expired sentinel shows when the sweep ran.
        t += windowS * 1000 - 500;
        await collection().insertOne({ project_id: `prj_sentinel_${randomUUID()}`, jti: 'sentinel', expires_at: new Date(0) });
        const trigger = await sealed(tp, fast.url, t);
        assert.equal((await postRaw(fast.url, CHECK, trigger.token)).status, 200);
        await waitUntil(async () => (await collection().countDocuments({ jti: 'sentinel' })) === 0, 'the fast instance swept');

        const again = await postRaw(slow.url, CHECK, original.token);
        assert.equal(again.status, replay);
        if (replay === 401) assert.equal((await readAnswer(again, tp)).slug, 'replay_detected');
      } finally {
        await Promise.all([fast.close(), slow.close()]);
      }
    });
  }

  describe('in Redis (REDIS_URL)', () => {
    const prefix = `test:replay:${randomUUID()}:`;
    const redis = createClient({ url: REDIS_URL });
    before(() => redis.connect());
    after(async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(keys);
      await redis.close();
    });

    it('when a jti is remembered, then a second time is a replay, and the key expires after window + margin', async () => {
      const cache = new ReplayCache(testStore().connection, { windowMs: 120_000, skewMarginMs: 30_000, logger: testLogger, redis: { client: redis, prefix } });
      const project = `prj_${randomUUID()}`;
      const iat = Math.floor(Date.now() / 1000);
      assert.equal(await cache.remember(project, 'j1', iat), true);
      assert.equal(await cache.remember(project, 'j1', iat), false);
      assert.equal(await cache.remember(project, 'j2', iat), true, 'another jti is not a replay');
      const [key] = await redis.keys(`${prefix}*${project}:j1`);
      assert.ok(key);
      const ttl = await redis.pTTL(key);
      assert.ok(ttl > 140_000 && ttl <= 150_000, `ttl ${ttl}`);
      assert.equal(await collection().countDocuments({ project_id: project }), 0, 'nothing in the store');
    });

    it('when Redis cannot answer, then the request is refused as service_unavailable rather than accepted unchecked', async () => {
      const gone = createClient({ url: REDIS_URL });
      await gone.connect();
      await gone.close();
      const cache = new ReplayCache(testStore().connection, { windowMs: 120_000, skewMarginMs: 0, logger: testLogger, redis: { client: gone, prefix } });
      await assert.rejects(cache.remember(`prj_${randomUUID()}`, 'j', Math.floor(Date.now() / 1000)), (err: unknown) => (err as { slug?: string }).slug === 'service_unavailable');
    });

    it('when two gateway instances share Redis and receive the same token at once, then exactly one accepts it', async () => {
      const config = { REDIS_URL, REPLAY_REDIS_PREFIX: prefix, RATE_LIMIT_REDIS_PREFIX: `${prefix}rl:` };
      const a = await startTestGateway({ partnerHandlers: echoHandlers(), config });
      const b = await startTestGateway({ partnerHandlers: echoHandlers(), config });
      try {
        const tp = await createTestProject({ url: a.url });
        const { token, jti } = await sealed(tp, a.url, Date.now());
        const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => postRaw(i % 2 ? a.url : b.url, CHECK, token)));
        assert.deepEqual(answers.map((x) => x.status).sort(), [200, ...Array<number>(9).fill(401)]);
        assert.equal((await redis.keys(`${prefix}*${tp.project._id}:${jti}`)).length, 1);
        assert.equal(await collection().countDocuments({ project_id: tp.project._id }), 0);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });
});
