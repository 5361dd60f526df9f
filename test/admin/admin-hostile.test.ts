import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { capturedLogLines } from '../support/log-capture.js';
import { startTestGateway, type TestGateway } from '../support/partner.js';

const TOKEN = 'ops-token-0123456789abcdef0123456789abcdef';

/** Staff tools are reached by people and scripts that make mistakes, and by guessers. */
describe('admin API: hostile input and guessed tokens', function () {
  this.timeout(60_000);
  let gw: TestGateway;

  before(async () => {
    // loopback is the "terminator" here: X-Forwarded-For says which client each request is.
    gw = await startTestGateway({ config: { ADMIN_TOKENS: `ops:${TOKEN}`, TRUST_PROXY: 'loopback', ADMIN_AUTH_MAX_FAILURES: '10' } });
  });
  after(() => gw.close());

  const get = (path: string, from: string, token = TOKEN) =>
    fetch(`${gw.url}${path}`, { headers: { Authorization: `Bearer ${token}`, 'X-Forwarded-For': from } });

  it('when 50 bad tokens come from one address, then after 10 failures it meets 429 with Retry-After, each failure is logged, and another address is unaffected', async () => {
    const guesser = `203.0.113.${Math.floor(Math.random() * 200) + 1}`;
    const marker = randomUUID();
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 50; i++) {
      const res = await get(`/admin/v1/slugs?${marker}=${i}`, guesser, `guess-${marker}-${i}`.padEnd(40, 'x'));
      statuses.push(res.status);
      if (res.status === 429) {
        retryAfter ??= res.headers.get('retry-after');
        assert.equal(((await res.json()) as { error: { slug: string } }).error.slug, 'rate_limited');
      } else await res.body?.cancel();
    }
    assert.deepEqual(statuses, [...Array<number>(10).fill(401), ...Array<number>(40).fill(429)]);
    assert.ok(retryAfter && Number(retryAfter) > 0, `Retry-After ${retryAfter}`);
    // Locked out: even the right token, from that address, is refused before it is compared.
    assert.equal((await get('/admin/v1/slugs', guesser)).status, 429);
    assert.equal((await get('/admin/v1/slugs', '198.51.100.20')).status, 200, 'staff elsewhere still get in');

    const lines = capturedLogLines().filter((l) => l.includes(guesser));
    assert.equal(lines.filter((l) => l.includes('staff authentication failed')).length, 10);
    assert.ok(lines.filter((l) => l.includes('staff authentication throttled')).length >= 40);
    assert.ok(!capturedLogLines().some((l) => l.includes(`guess-${marker}`)), 'no guessed token in the logs');
  });

  it('when a path has a bad percent-escape, a cursor an impossible date, or a query parameter is repeated, then a documented 4xx slug, and no raw input in the logs', async () => {
    const from = '198.51.100.30';
    const cases: [string, number, string][] = [
      ['/admin/v1/orders/%ZZ', 400, 'malformed_request'],
      ['/admin/v1/projects/%E0%A4%A', 400, 'malformed_request'],
      [`/admin/v1/orders?cursor=${Buffer.from('[8640000000000001,"x"]').toString('base64url')}`, 400, 'validation_error'],
      [`/admin/v1/orders?cursor=${Buffer.from('[-8640000000000001,"x"]').toString('base64url')}`, 400, 'validation_error'],
      ['/admin/v1/orders?from=2030-02-31T00:00:00Z', 400, 'validation_error'],
      ['/admin/v1/audit?staff=alice&staff=bob', 400, 'validation_error'],
      ['/admin/v1/orders?status=failed&status=completed', 400, 'validation_error'],
      ['/admin/v1/orders/slug-counts?project_id=a&project_id=b', 400, 'validation_error'],
    ];
    const before = capturedLogLines().length;
    for (const [path, status, slug] of cases) {
      const res = await get(path, from);
      assert.equal(res.status, status, path);
      assert.equal(((await res.json()) as { error: { slug: string } }).error.slug, slug, path);
    }
    const logged = capturedLogLines().slice(before).join('\n');
    for (const raw of ['%ZZ', '%E0%A4%A', '8640000000000001', 'alice']) assert.ok(!logged.includes(raw), `${raw} reached the log`);
    assert.ok(!logged.includes('internal_error') && !logged.includes('unhandled error'));
  });
});
