import assert from 'node:assert/strict';
import { documented } from '../support/craft.js';
import type { Connection } from 'mongoose';
import { dropIsolatedDb, isolatedDb } from '../support/isolated-db.js';
import { capturedLogLines } from '../support/log-capture.js';
import { startTestGateway, type TestGateway } from '../support/partner.js';

const TOKEN = 'ops-token-0123456789abcdef0123456789abcdef';

interface HostileRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** A request line as an attacker would write it: the path is sent verbatim, escapes and all. */
async function send(url: string, r: HostileRequest): Promise<{ status: number; text: string; contentType: string }> {
  const res = await fetch(`${url}${r.path}`, { method: r.method, headers: r.headers, ...(r.body !== undefined && { body: r.body }) });
  return { status: res.status, text: await res.text(), contentType: res.headers.get('content-type') ?? '' };
}

// Path segments and values a hostile or careless client sends.
const SEGMENTS = [
  '%ZZ', '%', '%0', '%00', '%C0%AF', '%E0%A4%A', '%FF%FE', '..%2F..%2Fetc', '%2e%2e', 'a'.repeat(400), '%E2%80%AE', '$gt', '%7B%22%24ne%22%3A1%7D',
  '__proto__', 'constructor', 'prototype', '%F0%9F%92%A9', ';', "'", '%3Cscript%3E', '%20', '-1', '1e999', 'NaN', '%0D%0AX-Injected:1',
];
const QUERY_VALUES = ['', '%ZZ', '-1', '0', '1e9', 'abc', '0x10', '999999999999999999999', 'NaN', '%00', '[]', '{}', 'a'.repeat(3000), '%7B%22%24gt%22%3A%22%22%7D', 'null', 'true'];
const CURSOR_JSON = ['[8640000000000001,"x"]', '[-8640000000000001,"x"]', '[1e308,"x"]', '[1.5,"x"]', '["x",1]', '[0]', '[]', '{}', 'null', '[0,{"$gt":""}]', '[0,"x","y"]', '"x"', '[NaN,"x"]', '[9007199254740993,"x"]'];
const DATES = ['2030-02-31T00:00:00Z', '2030-13-01T00:00:00Z', '275760-09-13T00:00:01Z', '-000001-01-01T00:00:00Z', 'yesterday', '1700000000', '2030-01-01', '2030-01-01T25:00:00Z', '2030-01-01T00:00:00+25:00'];
const BODIES = [
  '{', '[', 'null', '1', '"x"', 'true', '[]', '{"a":', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}', '{"$where":"1"}', '{"name":{"$gt":""}}',
  '{"name":"x","extra":1}', '{"name":123}', '{"name":null}', '{"name":[]}', '{"amount":"1e999"}', '{"amount":-1}', '{"amount":"NaN"}', '{"force":"yes"}',
  `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`, `{"name":"${'x'.repeat(70_000)}"}`, '\u0000', '{"a":"\\ud800"}', '{"a":1,"a":2}',
];
const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded', ''];

function adminRequests(): HostileRequest[] {
  const auth = { Authorization: `Bearer ${TOKEN}` };
  const out: HostileRequest[] = [];
  const gets = ['/orders/:x', '/projects/:x', '/projects/:x/cardholders', '/projects/:x/cardholders/:x', '/products/:x'];
  const posts = ['/projects/:x/disable', '/projects/:x/enable', '/projects/:x/signing-keys', '/projects/:x/encryption-keys/:x/retire', '/projects/:x/deposits', '/products/:x/activate'];
  const lists = ['/orders', '/orders/slug-counts', '/audit'];
  // 1. Hostile path parameters on every route that takes one.
  for (const route of gets) for (const seg of SEGMENTS) out.push({ method: 'GET', path: `/admin/v1${route.replaceAll(':x', seg)}`, headers: auth });
  for (const route of posts) for (const seg of SEGMENTS) out.push({ method: 'POST', path: `/admin/v1${route.replaceAll(':x', seg)}`, headers: { ...auth, 'Content-Type': 'application/json' }, body: '{}' });
  // 2. Hostile query values, keys and repetitions on the list routes.
  for (const route of lists) {
    for (const key of ['limit', 'cursor', 'status', 'last_error_slug', 'project_id', 'from', 'to', 'target', 'staff', 'unknown', '__proto__', 'status[$ne]']) {
      for (const value of QUERY_VALUES) out.push({ method: 'GET', path: `/admin/v1${route}?${key}=${value}`, headers: auth });
      out.push({ method: 'GET', path: `/admin/v1${route}?${key}=a&${key}=b`, headers: auth });
    }
  }
  for (const json of CURSOR_JSON) {
    for (const route of ['/orders', '/orders/slug-counts']) out.push({ method: 'GET', path: `/admin/v1${route}?cursor=${Buffer.from(json).toString('base64url')}`, headers: auth });
  }
  for (const date of DATES) for (const key of ['from', 'to']) out.push({ method: 'GET', path: `/admin/v1/orders?${key}=${encodeURIComponent(date)}`, headers: auth });
  // 3. Hostile bodies and media types on every route that takes a body.
  const bodyRoutes: [string, string][] = [
    ['POST', '/projects'], ['POST', '/products'], ['PATCH', '/products/NOPE'], ['POST', '/reconciliations'], ['POST', '/projects/prj_none/deposits'],
    ['POST', '/projects/prj_none/cardholders'], ['PUT', '/projects/prj_none/cardholders/u1/verification'], ['POST', '/projects/prj_none/signing-keys'],
  ];
  for (const [method, route] of bodyRoutes) {
    for (const body of BODIES) for (const type of CONTENT_TYPES.slice(0, 2)) out.push({ method, path: `/admin/v1${route}`, headers: { ...auth, 'Content-Type': type }, body });
    for (const type of CONTENT_TYPES.slice(2)) out.push({ method, path: `/admin/v1${route}`, headers: { ...auth, ...(type && { 'Content-Type': type }) }, body: '{"name":"x"}' });
  }
  // 4. Malformed staff credentials.
  for (const value of ['', 'Bearer', 'Bearer ', `Bearer ${TOKEN} x`, `bearer ${TOKEN}`, `Basic ${TOKEN}`, `Bearer ${'a'.repeat(600)}`, 'Bearer \u00e9', `Bearer ${TOKEN.slice(0, -1)}`]) {
    out.push({ method: 'GET', path: '/admin/v1/orders', headers: { Authorization: value } });
  }
  // 5. Methods the routes do not take.
  for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS']) for (const route of ['/orders', '/projects', '/slugs', '/audit']) out.push({ method, path: `/admin/v1${route}`, headers: auth });
  return out;
}

function partnerRequests(): HostileRequest[] {
  const out: HostileRequest[] = [];
  const jose = { 'Content-Type': 'application/jose' };
  for (const seg of SEGMENTS) {
    for (const path of [`/api/v1/${seg}`, `/api/v1/orders/${seg}`, `/api/v1/cards/${seg}/get`, `/${seg}`]) out.push({ method: 'POST', path, headers: jose, body: 'x.y.z.w.v' });
  }
  for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) for (const path of ['/api/v1/cards/create', '/api/v1/orders/check', '/api/v1/cards/get']) out.push({ method, path, headers: jose, ...(method === 'GET' ? {} : { body: 'x' }) });
  for (const [name, value] of [['Idempotency-Key', '\u00e9'.repeat(10)], ['X-Request-Id', '../../etc'], ['Content-Type', 'application/jose; charset=utf-16'], ['Content-Length', '0'], ['Transfer-Encoding', 'chunked']] as const) {
    out.push({ method: 'POST', path: '/api/v1/orders/check', headers: { ...jose, [name]: value }, body: 'x.y.z.w.v' });
  }
  return out;
}

describe('hostile requests to the admin API and the partner routes', function () {
  this.timeout(300_000);
  let gw: TestGateway;
  let connection: Connection;

  before(async () => {
    // Its own database: the list routes it probes then cost the same however many rows other
    // tests left in the suite's.
    connection = await isolatedDb('hostile');
    gw = await startTestGateway({
      connection,
      config: { ADMIN_TOKENS: `ops:${TOKEN}`, ADMIN_AUTH_MAX_FAILURES: '100000', RATE_LIMIT_PER_ADDRESS: '1000000', RATE_LIMIT_PER_PROJECT: '1000000' },
    });
  });
  after(async () => {
    await gw.close();
    await dropIsolatedDb(connection);
  });

  it('when over a thousand distinct hostile requests arrive (paths, queries, cursors, dates, bodies, credentials, methods), then none is answered 5xx and every error is a documented slug', async () => {
    const admin = adminRequests();
    const partner = partnerRequests();
    const all = [...admin, ...partner];
    const distinct = new Set(all.map((r) => JSON.stringify(r)));
    assert.equal(distinct.size, all.length, 'every request is distinct');
    assert.ok(admin.length >= 1000, `${admin.length} admin requests`);

    const logStart = capturedLogLines().length;
    const failures: string[] = [];
    const tally = new Map<string, number>();
    let next = 0;
    const worker = async () => {
      while (next < all.length) {
        const index = next++;
        const r = all[index]!;
        let outcome: string;
        try {
          const res = await send(gw.url, r);
          let slug: string | undefined;
          try {
            slug = (JSON.parse(res.text) as { error?: { slug?: string } }).error?.slug;
          } catch {
            slug = undefined;
          }
          outcome = `${res.status} ${slug ?? '-'}`;
          const ok = res.status < 400 ? res.status < 300 : res.status < 500 && documented(res.status, slug);
          if (!ok) failures.push(`#${index} ${r.method} ${r.path.slice(0, 80)}: ${res.status} ${res.text.slice(0, 100)}`);
        } catch (err) {
          // fetch itself refused to send it (an invalid header value): not a gateway answer.
          outcome = `unsent (${(err as Error).name})`;
        }
        tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));

    process.stdout.write(`      ${all.length} hostile requests (${admin.length} admin, ${partner.length} partner): ${[...tally].sort().map(([k, n]) => `${k}: ${n}`).join(', ')}\n`);
    assert.deepEqual(failures, []);
    const unsent = [...tally].filter(([k]) => k.startsWith('unsent')).reduce((n, [, c]) => n + c, 0);
    assert.ok(unsent < 20, `${unsent} requests could not be sent`);
    const logged = capturedLogLines().slice(logStart);
    assert.deepEqual(logged.filter((l) => l.includes('unhandled error')), [], 'no request reached the 500 path');
    assert.ok(!logged.some((l) => l.includes('%ZZ') || l.includes('<script>') || l.includes('X-Injected')), 'no raw input in the logs');
  });
});
