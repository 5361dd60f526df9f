import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { GatewayError } from '../errors/gateway-error.js';
import type { ResponseEncryptionAlg, SigningAlg } from '../projects/project-model.js';

/**
 * Checks a partner's public key before it is registered: a public JWK that node:crypto can load,
 * of the type, curve and size its algorithm needs. Private keys are refused outright (a partner's
 * private key must never reach us, and storing one would make us able to impersonate them).
 * Plain node:crypto on purpose: only src/jose/ may import jose.
 */

export type KeyUse = 'signing' | 'encryption';
export const SIGNING_ALGS: readonly SigningAlg[] = ['ES256', 'EdDSA', 'PS256', 'RS256'];
export const ENCRYPTION_ALGS: readonly ResponseEncryptionAlg[] = ['RSA-OAEP-256', 'ECDH-ES+A256KW'];

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const MIN_RSA_BITS = 2048;

export interface CheckedKey {
  alg: SigningAlg | ResponseEncryptionAlg;
  /** Only the public members, plus kid, alg and use. */
  jwk: Record<string, unknown>;
  /** RFC 7638 SHA-256 thumbprint, base64url: the default kid. */
  thumbprint: string;
}

function refuse(message: string): never {
  throw new GatewayError('validation_error', undefined, { issues: [{ path: 'jwk', message }] });
}

export function checkPublicKey(use: KeyUse, alg: string, jwk: unknown): CheckedKey {
  const allowed: readonly string[] = use === 'signing' ? SIGNING_ALGS : ENCRYPTION_ALGS;
  if (!allowed.includes(alg)) {
    throw new GatewayError('validation_error', undefined, { issues: [{ path: 'alg', message: `must be one of ${allowed.join(', ')}` }] });
  }
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) refuse('must be a JWK object');
  const members = jwk as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((m) => m in members)) refuse('is a private or symmetric key; register the public key only');
  if (members.alg !== undefined && members.alg !== alg) refuse('names another alg');
  if (members.use !== undefined && members.use !== (use === 'signing' ? 'sig' : 'enc')) refuse('names another use');

  let key: KeyObject;
  try {
    key = createPublicKey({ key: members as JsonWebKey, format: 'jwk' });
  } catch {
    refuse('is not a valid public JWK');
  }
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  switch (alg) {
    case 'ES256':
    case 'ECDH-ES+A256KW':
      if (type !== 'ec' || details.namedCurve !== 'prime256v1') refuse(`${alg} needs an EC key on P-256`);
      break;
    case 'EdDSA':
      if (type !== 'ed25519') refuse('EdDSA needs an Ed25519 key');
      break;
    default: // PS256, RS256, RSA-OAEP-256
      if (type !== 'rsa') refuse(`${alg} needs an RSA key`);
      if ((details.modulusLength ?? 0) < MIN_RSA_BITS) refuse(`${alg} needs an RSA key of at least ${MIN_RSA_BITS} bits`);
  }

  const exported = key.export({ format: 'jwk' }) as Record<string, string>;
  return {
    alg: alg as CheckedKey['alg'],
    jwk: { ...exported, alg, use: use === 'signing' ? 'sig' : 'enc' },
    thumbprint: thumbprint(exported),
  };
}

/** RFC 7638: SHA-256 over the required members, in lexicographic order, no whitespace. */
export function thumbprint(jwk: Record<string, string>): string {
  const required: Record<string, string[]> = { EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'], RSA: ['e', 'kty', 'n'] };
  const names = required[jwk.kty ?? ''];
  if (!names) throw new Error(`no thumbprint rule for kty ${jwk.kty}`);
  const canonical = `{${names.map((n) => `${JSON.stringify(n)}:${JSON.stringify(jwk[n])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}
