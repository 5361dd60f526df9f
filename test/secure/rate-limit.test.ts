import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { GatewayApiError } from '@card-gateway/client';
import { postRaw, readAnswer } from '../support/craft.js';
import { clientFor, createTestProject, echoHandlers, startTestGateway, type TestGateway } from '../support/partner.js';

const CHECK = '/api/v1/orders/check';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function errorOf(promise: Promise<unknown>): Promise<GatewayApiError> {
  const err = await promise.then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof GatewayApiError, String(err));
  return err;
}

describe('secure channel: rate limits', function () {
  this.timeout(60_000);
  const gateways: TestGateway[] = [];
  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((g) => g.close()));
  });

  it('when one address exceeds its budget, then 429 rate_limited comes plain with Retry-After, before any decryption', async () => {
    const gw = await startTestGateway({ partnerHandlers: echoHandlers(), config: { RATE_LIMIT_PER_ADDRESS: '3' } });
    gateways.push(gw);
    // Garbage bodies count too: the budget is spent before the (expensive) decryption is tried.
    for (let i = 0; i < 3; i++) assert.equal((await postRaw(gw.url, CHECK, 'not-a-jwe')).status, 401);
    const limited = await postRaw(gw.url, CHECK, 'not-a-jwe');
    assert.equal(limited.status, 429);
    assert.match(limited.contentType, /^application\/json/);
    assert.equal((await readAnswer(limited)).slug, 'rate_limited');
    assert.ok(Number(limited.retryAfter) > 0, `Retry-After: ${limited.retryAfter}`);
  });

  it('when one project exceeds its budget, then 429 rate_limited comes sealed, and another project is not affected', async () => {
    const gw = await startTestGateway({ partnerHandlers: echoHandlers(), config: { RATE_LIMIT_PER_PROJECT: '2' } });
    gateways.push(gw);
    const busy = await createTestProject({ url: gw.url });
    const calm = await createTestProject({ url: gw.url });
    await busy.client.checkOrder({ order_id: 'o' });
    await busy.client.checkOrder({ order_id: 'o' });
    const err = await errorOf(busy.client.checkOrder({ order_id: 'o' }));
    assert.equal(err.slug, 'rate_limited');
    assert.equal(err.status, 429);
    assert.equal(err.sealed, true);
    assert.equal((await calm.client.checkOrder({ order_id: 'o' })).status, 200);
  });

  it('when two gateway instances share Redis, then they share one budget per address and per project', async () => {
    const prefix = `card-gateway-test:${randomUUID()}:`;
    const config = { REDIS_URL, RATE_LIMIT_REDIS_PREFIX: prefix, RATE_LIMIT_PER_ADDRESS: '1000', RATE_LIMIT_PER_PROJECT: '4' };
    const a = await startTestGateway({ partnerHandlers: echoHandlers(), config });
    const b = await startTestGateway({ partnerHandlers: echoHandlers(), config });
    gateways.push(a, b);
    const project = await createTestProject({ url: a.url });
    const viaB = (await createTestProject({ url: b.url })).client; // a client of another project, for contrast
    const sameProjectViaB = clientFor(b.url, project.project._id, project.keys);

    await project.client.checkOrder({ order_id: 'o' });
    await sameProjectViaB.checkOrder({ order_id: 'o' });
    await project.client.checkOrder({ order_id: 'o' });
    await sameProjectViaB.checkOrder({ order_id: 'o' });
    // Four requests spread over two instances spent the project's budget of four on both.
    assert.equal((await errorOf(project.client.checkOrder({ order_id: 'o' }))).slug, 'rate_limited');
    assert.equal((await errorOf(sameProjectViaB.checkOrder({ order_id: 'o' }))).slug, 'rate_limited');
    assert.equal((await viaB.checkOrder({ order_id: 'o' })).status, 200);

    const redis = createClient({ url: REDIS_URL });
    await redis.connect();
    try {
      const keys = await redis.keys(`${prefix}*`);
      assert.ok(keys.some((k) => k.startsWith(`${prefix}project:`)), keys.join(','));
      assert.ok(keys.some((k) => k.startsWith(`${prefix}addr:`)), keys.join(','));
      if (keys.length > 0) await redis.del(keys);
    } finally {
      await redis.close();
    }
  });

  it('when two instances share Redis, then an address spending its budget on one is refused by the other', async () => {
    const config = { REDIS_URL, RATE_LIMIT_REDIS_PREFIX: `card-gateway-test:${randomUUID()}:`, RATE_LIMIT_PER_ADDRESS: '3' };
    const a = await startTestGateway({ partnerHandlers: echoHandlers(), config });
    const b = await startTestGateway({ partnerHandlers: echoHandlers(), config });
    gateways.push(a, b);
    assert.equal((await postRaw(a.url, CHECK, 'x')).status, 401);
    assert.equal((await postRaw(a.url, CHECK, 'x')).status, 401);
    assert.equal((await postRaw(b.url, CHECK, 'x')).status, 401);
    assert.equal((await postRaw(b.url, CHECK, 'x')).status, 429);
    assert.equal((await postRaw(a.url, CHECK, 'x')).status, 429);
  });

  it('when REDIS_URL names no reachable Redis, then the gateway refuses to start and says why', async () => {
    await assert.rejects(
      startTestGateway({ config: { REDIS_URL: 'redis://127.0.0.1:1' } }),
      (err: Error) => /^REDIS_URL: cannot connect to Redis/.test(err.message),
    );
  });

  it('when the two instances use memory stores instead, then each has its own budget (the contrast)', async () => {
    const config = { RATE_LIMIT_PER_PROJECT: '4' };
    const a = await startTestGateway({ partnerHandlers: echoHandlers(), config });
    const b = await startTestGateway({ partnerHandlers: echoHandlers(), config });
    gateways.push(a, b);
    const project = await createTestProject({ url: a.url });
    const viaB = clientFor(b.url, project.project._id, project.keys);
    for (let i = 0; i < 2; i++) {
      await project.client.checkOrder({ order_id: 'o' });
      await viaB.checkOrder({ order_id: 'o' });
    }
    // The same four requests that exhaust a shared budget leave each memory store half full.
    assert.equal((await project.client.checkOrder({ order_id: 'o' })).status, 200);
    assert.equal((await viaB.checkOrder({ order_id: 'o' })).status, 200);
  });
});
