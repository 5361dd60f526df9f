import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { WorkLimit } from '../../src/secure/work-limit.js';
import { postRaw, readAnswer } from '../support/craft.js';
import { clientFor, createTestProject, echoHandlers, startTestGateway, type TestGateway } from '../support/partner.js';

const CHECK = '/api/v1/orders/check';

/** A fetch that arrives "from" a client address, as a TLS terminator in front would say it. */
const via = (forwardedFor: string): typeof fetch => (input, init) =>
  fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), 'X-Forwarded-For': forwardedFor } });

describe('secure channel: limits that protect partners instead of exposing them', function () {
  this.timeout(60_000);
  const gateways: TestGateway[] = [];
  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((g) => g.close()));
  });

  it('when junk floods from one address, then it meets 429 while an authenticated partner keeps being answered', async () => {
    const gw = await startTestGateway({ partnerHandlers: echoHandlers(), config: { TRUST_PROXY: 'loopback', RATE_LIMIT_PER_ADDRESS: '5' } });
    gateways.push(gw);
    const tp = await createTestProject({ url: gw.url });
    const partner = clientFor(gw.url, tp.project._id, tp.keys, { fetch: via('198.51.100.7') });
    const junk = () => postRaw(gw.url, CHECK, `junk.${randomUUID()}`, { 'X-Forwarded-For': '203.0.113.66' });

    const junkStatuses: number[] = [];
    const partnerStatuses: number[] = [];
    for (let round = 0; round < 10; round++) {
      const [answers, reply] = await Promise.all([Promise.all(Array.from({ length: 3 }, junk)), partner.checkOrder({ order_id: `o-${round}` })]);
      junkStatuses.push(...answers.map((a) => a.status));
      partnerStatuses.push(reply.status);
    }
    assert.deepEqual(partnerStatuses, Array<number>(10).fill(200));
    assert.equal(junkStatuses.filter((s) => s === 401).length, 5, junkStatuses.join(','));
    assert.equal(junkStatuses.filter((s) => s === 429).length, 25);
  });

  it("when a partner sends more than an address's budget, then all its requests are answered: its budget is its project's", async () => {
    const gw = await startTestGateway({ partnerHandlers: echoHandlers(), config: { RATE_LIMIT_PER_ADDRESS: '5', RATE_LIMIT_PER_PROJECT: '100' } });
    gateways.push(gw);
    const tp = await createTestProject({ url: gw.url });
    for (let i = 0; i < 12; i++) assert.equal((await tp.client.checkOrder({ order_id: `o-${i}` })).status, 200, `request ${i}`);
    // The same address's junk still has its whole budget of failures, then meets 429.
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push((await postRaw(gw.url, CHECK, 'junk')).status);
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429]);
  });

  it('when TRUST_PROXY is a hop count, then a rotating X-Forwarded-For written by the client does not walk past the limit', async () => {
    const gw = await startTestGateway({ partnerHandlers: echoHandlers(), config: { TRUST_PROXY: '1', RATE_LIMIT_PER_ADDRESS: '5' } });
    gateways.push(gw);
    const statuses = [];
    for (let i = 0; i < 12; i++) {
      // The client forges the left part; the terminator appends the address it saw.
      statuses.push((await postRaw(gw.url, CHECK, 'junk', { 'X-Forwarded-For': `10.9.${i}.${i}, 203.0.113.99` })).status);
    }
    assert.deepEqual(statuses, [...Array<number>(5).fill(401), ...Array<number>(7).fill(429)]);
  });

  it('when more work arrives than the decryption slots and queue hold, then the surplus is refused at once with 503 and Retry-After, and the rest runs', async () => {
    const limit = new WorkLimit(2, 3);
    let running = 0;
    let peak = 0;
    const release: (() => void)[] = [];
    const work = () =>
      new Promise<string>((resolve) => {
        running++;
        peak = Math.max(peak, running);
        release.push(() => {
          running--;
          resolve('done');
        });
      });
    const outcomes = Array.from({ length: 8 }, () => limit.run(work).then((v) => v, (err: unknown) => err as { slug: string; headers: Record<string, string> }));
    const refused = await Promise.all(outcomes.slice(5));
    for (const err of refused) {
      assert.equal(typeof err === 'object' && err.slug, 'service_unavailable');
      assert.equal(typeof err === 'object' && err.headers['Retry-After'], '1');
    }
    while (release.length > 0 || running > 0) {
      release.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(await Promise.all(outcomes.slice(0, 5)), Array<string>(5).fill('done'));
    assert.equal(peak, 2, 'never more than two at once');
  });

  it('when the slots are exhausted on a real gateway, then refused requests get a documented 503', async () => {
    const gw = await startTestGateway({ partnerHandlers: echoHandlers(), config: { PREAUTH_MAX_CONCURRENT: '1', PREAUTH_MAX_QUEUED: '0', RATE_LIMIT_PER_ADDRESS: '100000' } });
    gateways.push(gw);
    const tp = await createTestProject({ url: gw.url });
    const tokens = await Promise.all(Array.from({ length: 20 }, async () => tp.client.seal(tp.client.claims(CHECK, { order_id: 'o' }))));
    const answers = await Promise.all(tokens.map((t) => postRaw(gw.url, CHECK, t)));
    const statuses = new Set(answers.map((a) => a.status));
    for (const s of statuses) assert.ok(s === 200 || s === 503, `status ${s}`);
    for (const a of answers.filter((x) => x.status === 503)) {
      assert.equal((await readAnswer(a)).slug, 'service_unavailable');
      assert.equal(a.retryAfter, '1');
    }
    assert.ok(answers.some((a) => a.status === 200));
  });
});
