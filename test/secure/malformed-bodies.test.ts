import assert from 'node:assert/strict';
import type { EncryptionKey, KeyManagementAlg } from '../../src/jose/index.js';
import {
  b64u,
  documented,
  encryptTo,
  gatewayEncryptionKeys,
  postRaw,
  readAnswer,
  requestClaims,
  signClaims,
} from '../support/craft.js';
import { createTestProject, echoHandlers, startTestGateway, type TestGateway, type TestProject } from '../support/partner.js';
import { testStore } from '../support/test-store.js';

const CHECK = '/api/v1/orders/check';
const SEED = Number(process.env.FUZZ_SEED ?? 20261122);

/** mulberry32: a small seeded generator, so a failing body can be reproduced from the seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  kind: string;
  body: string | Buffer;
  headers?: Record<string, string>;
}

describe('secure channel: malformed bodies', function () {
  this.timeout(300_000);
  let gw: TestGateway;
  let tp: TestProject;
  let gwKeys: Record<KeyManagementAlg, EncryptionKey>;

  before(async () => {
    gw = await startTestGateway({
      partnerHandlers: echoHandlers(),
      config: { RATE_LIMIT_PER_ADDRESS: '1000000', RATE_LIMIT_PER_PROJECT: '1000000' },
    });
    tp = await createTestProject({ url: gw.url, signingAlg: 'ES256', encryptionAlg: 'ECDH-ES+A256KW' });
    gwKeys = await gatewayEncryptionKeys(gw.url);
  });
  after(() => gw.close());

  async function storeCounts(): Promise<Record<string, number>> {
    const db = testStore().connection.db!;
    const counts: Record<string, number> = {};
    for (const { name } of await db.listCollections().toArray()) counts[name] = await db.collection(name).countDocuments({});
    return counts;
  }

  async function buildCases(): Promise<Case[]> {
    const rand = prng(SEED);
    const int = (n: number) => Math.floor(rand() * n);
    const pick = <T>(list: readonly T[]): T => list[int(list.length)]!;
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
    const b64chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const b64 = (n: number) => Array.from({ length: n }, () => b64chars[int(64)]).join('');
    const algs = ['RSA-OAEP-256', 'ECDH-ES+A256KW'] as const;
    const cases: Case[] = [];

    // Valid-looking tokens whose iat is long past: even a mutation that changed nothing is refused.
    const stale = async () =>
      encryptTo(await signClaims(requestClaims(tp, CHECK, { iat: Math.floor(Date.now() / 1000) - 3600 }), tp.keys.signing), gwKeys[pick(algs)]);
    const bases: string[] = [];
    for (let i = 0; i < 20; i++) bases.push(await stale());

    // 1. Random bytes, of every size up to a few KiB.
    for (let i = 0; i < 200; i++) cases.push({ kind: 'random bytes', body: bytes(int(3000)) });
    // 2. Random base64url text with a random number of dots.
    for (let i = 0; i < 150; i++) {
      cases.push({ kind: 'random segments', body: Array.from({ length: int(7) }, () => b64(int(400))).join('.') });
    }
    // 3. Truncated tokens, cut anywhere (at least one character).
    for (let i = 0; i < 200; i++) {
      const base = pick(bases);
      cases.push({ kind: 'truncated', body: base.slice(0, int(base.length - 1)) });
    }
    // 4. Reshuffled segments, within one token and across two.
    for (let i = 0; i < 100; i++) {
      const segments = pick(bases).split('.');
      for (let j = segments.length - 1; j > 0; j--) {
        const k = int(j + 1);
        [segments[j], segments[k]] = [segments[k]!, segments[j]!];
      }
      cases.push({ kind: 'reshuffled', body: segments.join('.') });
    }
    for (let i = 0; i < 60; i++) {
      const a = pick(bases).split('.');
      const b = pick(bases).split('.');
      const at = 1 + int(4);
      a[at] = b[at]!;
      cases.push({ kind: 'spliced', body: a.join('.') });
    }
    // 5. Single-character mutations anywhere in a token.
    for (let i = 0; i < 100; i++) {
      const base = pick(bases);
      const at = int(base.length);
      cases.push({ kind: 'mutated', body: `${base.slice(0, at)}${pick([...b64chars, '.', '=', ' ', '\u00e9'])}${base.slice(at + 1)}` });
    }
    // 6. JWE protected headers of the wrong JSON types, or oversized.
    const odd: unknown[] = [null, 0, -1, 1e308, true, [], ['RSA-OAEP-256'], {}, { a: 1 }, '', 'x'.repeat(5000), 'RSA-OAEP-256\u0000'];
    const gwKid = gwKeys['RSA-OAEP-256'].kid;
    for (let i = 0; i < 150; i++) {
      const rest = pick(bases).split('.').slice(1);
      const header: Record<string, unknown> = { alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: gwKid };
      const field = pick(['alg', 'enc', 'kid', 'epk', 'cty', 'crit', 'zip']);
      header[field] = pick(odd);
      const encoded = pick([b64u(header), b64u(header), b64u(header), b64u(pick(odd) as object), b64u('{"alg":'), b64u(`{"alg":"RSA-OAEP-256","pad":"${'A'.repeat(int(20_000))}"}`)]);
      cases.push({ kind: 'header types', body: [encoded, ...rest].join('.') });
    }
    // 7. A validly encrypted and signed token whose claims have wrong types: refused after the signature,
    //    before the replay cache (nothing stored).
    const claimOdd: unknown[] = [null, 0, 1.5, -1, 1e308, true, [], [1], {}, { $gt: '' }, '', 'x'.repeat(3000)];
    for (let i = 0; i < 150; i++) {
      const claim = pick(['iss', 'aud', 'iat', 'jti', 'htm', 'htu', 'idk']);
      let value = pick(claimOdd);
      if (claim === 'iat' && typeof value === 'number' && Math.abs(value - Date.now() / 1000) < 200) value = 'now';
      const claims = requestClaims(tp, CHECK, { [claim]: value });
      cases.push({ kind: `claim ${claim}`, body: await encryptTo(await signClaims(claims, tp.keys.signing), gwKeys[pick(algs)]) });
    }
    // 8. Inner JWS of the wrong shape: claims not an object, headers of wrong types, bad signature.
    for (let i = 0; i < 100; i++) {
      const shape = int(4);
      let jws: string;
      if (shape === 0) jws = `${b64u({ alg: 'ES256', kid: tp.keys.signing.kid })}.${b64u(JSON.stringify(pick(claimOdd)))}.${b64(86)}`;
      else if (shape === 1) jws = `${b64u({ alg: pick(odd), kid: tp.keys.signing.kid })}.${b64u(requestClaims(tp, CHECK))}.${b64(86)}`;
      else if (shape === 2) jws = `${b64u({ alg: 'ES256', kid: pick(odd) })}.${b64u(requestClaims(tp, CHECK))}.${b64(86)}`;
      else jws = `${b64u({ alg: 'ES256', kid: tp.keys.signing.kid })}.${b64u(requestClaims(tp, CHECK))}.${b64(int(200))}`;
      cases.push({ kind: 'inner shape', body: await encryptTo(jws, gwKeys[pick(algs)]) });
    }
    // 9. The HTTP envelope itself: oversized, wrong or missing media types, compressed.
    for (let i = 0; i < 40; i++) {
      const variant = int(4);
      if (variant === 0) cases.push({ kind: 'oversized', body: b64(64 * 1024 + 1 + int(100_000)) });
      else if (variant === 1) cases.push({ kind: 'media type', body: pick(bases), headers: { 'Content-Type': pick(['application/json', 'text/plain', 'application/jwt', 'application/jose+json', '']) } });
      else if (variant === 2) cases.push({ kind: 'encoding', body: pick(bases), headers: { 'Content-Encoding': pick(['gzip', 'deflate', 'br']) } });
      else cases.push({ kind: 'empty', body: '' });
    }
    return cases;
  }

  it(`when 1,250 malformed bodies arrive (seed ${SEED}), then each gets a documented 4xx slug, none a 5xx, and nothing is stored`, async () => {
    const cases = await buildCases();
    assert.ok(cases.length >= 1000, `${cases.length} cases`);
    const before = await storeCounts();
    const tally = new Map<string, number>();
    const failures: string[] = [];

    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const index = next++;
        const c = cases[index]!;
        const raw = await postRaw(gw.url, CHECK, c.body, c.headers);
        const answer = await readAnswer(raw, tp).catch(() => undefined);
        const ok = answer !== undefined && raw.status >= 400 && raw.status < 500 && documented(raw.status, answer.slug);
        if (!ok) failures.push(`#${index} ${c.kind}: ${raw.status} ${raw.text.slice(0, 120)}`);
        const key = `${raw.status} ${answer?.slug ?? '?'}${answer?.sealed ? ' (sealed)' : ''}`;
        tally.set(key, (tally.get(key) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));

    process.stdout.write(`      ${cases.length} malformed bodies: ${[...tally].sort().map(([k, n]) => `${k}: ${n}`).join(', ')}\n`);
    assert.deepEqual(failures, []);
    assert.deepEqual(await storeCounts(), before, 'no collection changed');
  });
});
