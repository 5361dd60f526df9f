import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  encryptCompact,
  importPrivateKey,
  importPublicKey,
  signCompact,
  type EncryptionKey,
  type KeyManagementAlg,
  type SignatureAlg,
} from '../../src/jose/index.js';
import { SLUGS, isSlug } from '../../src/errors/slugs.js';
import type { TestProject } from './partner.js';

/**
 * Hand-made requests for tests that need what the PartnerClient would never send: other keys,
 * other algorithms, tampered segments, stale clocks.
 */

export const b64u = (value: string | Buffer | object): string =>
  Buffer.from(typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value)).toString('base64url');

export async function gatewayEncryptionKeys(url: string): Promise<Record<KeyManagementAlg, EncryptionKey>> {
  const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
  const out: Partial<Record<KeyManagementAlg, EncryptionKey>> = {};
  for (const { kid, alg, use, ...members } of jwks.keys) {
    if (use !== 'enc') continue;
    const a = alg as KeyManagementAlg;
    out[a] = { kid: kid as string, alg: a, key: importPublicKey(members, a) };
  }
  return out as Record<KeyManagementAlg, EncryptionKey>;
}

export function requestClaims(tp: TestProject, path: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: tp.project._id,
    aud: 'card-gateway',
    iat: Math.floor(Date.now() / 1000),
    jti: randomUUID(),
    htm: 'POST',
    htu: path,
    body: { order_id: 'ord_test' },
    ...overrides,
  };
}

/** Signs claims with the project's key, or another (`as`), under any kid. */
export async function signClaims(
  claims: object,
  signer: { kid: string; alg: SignatureAlg; privateJwk: Record<string, unknown> },
  kid = signer.kid,
): Promise<string> {
  return signCompact(Buffer.from(JSON.stringify(claims)), { kid, alg: signer.alg, key: importPrivateKey(signer.privateJwk, signer.alg) });
}

export async function encryptTo(plaintext: string | Buffer, key: EncryptionKey, kid = key.kid): Promise<string> {
  return encryptCompact(Buffer.from(plaintext), { ...key, kid });
}

export interface RawAnswer {
  status: number;
  contentType: string;
  text: string;
  requestId: string | null;
  retryAfter: string | null;
}

export async function postRaw(url: string, path: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/jose', ...headers }, body });
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    text: await res.text(),
    requestId: res.headers.get('x-request-id'),
    retryAfter: res.headers.get('retry-after'),
  };
}

export interface ReadAnswer {
  status: number;
  slug: string | undefined;
  sealed: boolean;
  payload: Record<string, unknown>;
}

/** Reads an answer: plain JSON as is, sealed ones opened with the project's client. */
export async function readAnswer(answer: RawAnswer, tp?: TestProject): Promise<ReadAnswer> {
  const sealed = answer.contentType === 'application/jose';
  let payload: Record<string, unknown>;
  if (sealed) {
    if (!tp) throw new Error('a sealed answer needs the project to open it');
    payload = await tp.client.open(answer.text);
  } else {
    payload = JSON.parse(answer.text) as Record<string, unknown>;
  }
  const slug = (payload.error as { slug?: string } | undefined)?.slug;
  return { status: answer.status, slug, sealed, payload };
}

/** True when status and slug agree with the slug table (a documented answer). */
export function documented(status: number, slug: string | undefined): boolean {
  return slug !== undefined && isSlug(slug) && SLUGS[slug].status === status;
}

/** Awaits a promise that must be refused with an error of `type`, and returns that error. */
export async function refusedWith<E extends Error>(promise: Promise<unknown>, type: abstract new (...args: never[]) => E, what = 'a refusal'): Promise<E> {
  const err = await promise.then(
    () => assert.fail(`expected ${what}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof type, String(err));
  return err;
}
