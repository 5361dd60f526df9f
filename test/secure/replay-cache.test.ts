import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ReplayCache, replayCacheModel } from '../../src/secure/replay-cache.js';
import { encryptTo, gatewayEncryptionKeys, postRaw, requestClaims, signClaims } from '../support/craft.js';
import { testLogger } from '../support/log-capture.js';
import { createTestProject, echoHandlers, startTestGateway } from '../support/partner.js';
import { testStore } from '../support/test-store.js';

describe('replay cache', function () {
  this.timeout(30_000);
  const collection = () => testStore().connection.collection('replay_cache');
  // The gateway builds its indexes at start; this test uses the cache without a gateway.
  before(() => replayCacheModel(testStore().connection).createIndexes());

  it('when a window has passed, then the next request sweeps entries whose iat the window refuses anyway, and keeps the others', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const cache = new ReplayCache(testStore().connection, 120_000, testLogger, () => now);
    const project = `prj_sweep_${randomUUID()}`;
    const iat = () => Math.floor(now / 1000);

    assert.equal(await cache.remember(project, 'old-1', iat()), true);
    assert.equal(await cache.remember(project, 'old-1', iat()), false, 'a replay is refused');
    now += 100_000;
    assert.equal(await cache.remember(project, 'recent-1', iat()), true);
    now += 30_000; // old-1 is now 130 s old: outside the window; recent-1 is 30 s old
    assert.equal(await cache.remember(project, 'trigger', iat()), true);
    const left = async () => (await collection().find({ project_id: project }).toArray()).map((d) => d.jti as string).sort();
    // The sweep runs in the background of the request that notices it is due: wait for it
    // (generously: a loaded CI machine), then check exactly what it removed.
    for (let i = 0; i < 500 && (await left()).includes('old-1'); i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await left(), ['recent-1', 'trigger']);

    now += 10 * 60_000;
    assert.ok((await cache.sweep()) >= 2, 'both remaining entries have expired');
    assert.deepEqual(await left(), []);
  });

  it('when two gateway instances receive the same token at once, then exactly one accepts it', async () => {
    const a = await startTestGateway({ partnerHandlers: echoHandlers() });
    const b = await startTestGateway({ partnerHandlers: echoHandlers() });
    try {
      const tp = await createTestProject({ url: a.url });
      const key = (await gatewayEncryptionKeys(a.url))['ECDH-ES+A256KW'];
      const claims = requestClaims(tp, '/api/v1/orders/check');
      const token = await encryptTo(await signClaims(claims, tp.keys.signing), key);
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => postRaw(i % 2 ? a.url : b.url, '/api/v1/orders/check', token)));
      assert.deepEqual(answers.map((x) => x.status).sort(), [200, ...Array<number>(9).fill(401)]);
      assert.equal(await collection().countDocuments({ project_id: tp.project._id, jti: claims.jti }), 1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
