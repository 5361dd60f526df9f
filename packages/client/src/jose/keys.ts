import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair as generateNodeKeyPair,
  type JsonWebKeyInput,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';
import type { JoseAlg } from './algorithms.js';
import { JoseFailure } from './errors.js';

/**
 * Keys are node:crypto KeyObjects: they come from PEM or JWK alike, expose their type and size for
 * the checks below, and jose caches their WebCrypto form itself.
 */
export type { KeyObject } from 'node:crypto';

/** A JWK as JSON, or PEM text. */
export type KeyMaterial = string | Record<string, unknown>;
export type Jwk = Record<string, unknown>;

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const MIN_RSA_BITS = 2048;

function toKeyInput(material: KeyMaterial): string | JsonWebKeyInput {
  if (typeof material === 'string') return material;
  return { key: material, format: 'jwk' };
}

/** Throws unless `key` is the right type and size for `alg`. */
export function assertKeyFitsAlg(key: KeyObject, alg: JoseAlg): void {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  switch (alg) {
    case 'RSA-OAEP-256':
    case 'PS256':
    case 'RS256':
      if (type !== 'rsa') throw new JoseFailure('invalid_key', `${alg} needs an RSA key`);
      if ((details.modulusLength ?? 0) < MIN_RSA_BITS) throw new JoseFailure('invalid_key', `${alg} needs an RSA key of at least ${MIN_RSA_BITS} bits`);
      return;
    case 'ECDH-ES+A256KW':
    case 'ES256':
      if (type !== 'ec' || details.namedCurve !== 'prime256v1') throw new JoseFailure('invalid_key', `${alg} needs a P-256 key`);
      return;
    case 'EdDSA':
      if (type !== 'ed25519') throw new JoseFailure('invalid_key', 'EdDSA needs an Ed25519 key');
      return;
  }
}

/** Parses a private key (PEM PKCS#8/PKCS#1/SEC1 or private JWK) of any type. */
export function parsePrivateKey(material: KeyMaterial): KeyObject {
  try {
    return createPrivateKey(toKeyInput(material));
  } catch {
    throw new JoseFailure('invalid_key', 'not a private key in PEM or JWK form');
  }
}

/** Imports a private key and checks it fits `alg`. */
export function importPrivateKey(material: KeyMaterial, alg: JoseAlg): KeyObject {
  const key = parsePrivateKey(material);
  assertKeyFitsAlg(key, alg);
  return key;
}

/** Imports a public key (PEM SPKI, X.509 certificate or public JWK) and checks it fits `alg`. */
export function importPublicKey(material: KeyMaterial, alg: JoseAlg): KeyObject {
  if (typeof material !== 'string' && PRIVATE_JWK_MEMBERS.some((m) => Object.hasOwn(material, m))) {
    throw new JoseFailure('invalid_key', 'a public key was expected but private members are present');
  }
  let key: KeyObject;
  try {
    key = createPublicKey(toKeyInput(material));
  } catch {
    throw new JoseFailure('invalid_key', 'not a public key in PEM or JWK form');
  }
  assertKeyFitsAlg(key, alg);
  return key;
}

/** The public members of a key as a JWK (no kid/use/alg: the caller adds them). */
export function publicJwk(key: KeyObject): Jwk {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return publicKey.export({ format: 'jwk' });
}

export function privateJwk(key: KeyObject): Jwk {
  if (key.type !== 'private') throw new JoseFailure('invalid_key', 'not a private key');
  return key.export({ format: 'jwk' });
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url): a stable key id derived from the public key. */
export function jwkThumbprint(key: KeyObject): string {
  const jwk = publicJwk(key);
  const members = jwk.kty === 'RSA' ? ['e', 'kty', 'n'] : jwk.kty === 'EC' ? ['crv', 'kty', 'x', 'y'] : ['crv', 'kty', 'x'];
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

/** The algorithm a key implies for a use, when the key material does not say. */
export function defaultAlgFor(key: KeyObject, use: 'enc' | 'sig'): JoseAlg {
  const type = key.asymmetricKeyType;
  if (use === 'enc') {
    if (type === 'rsa') return 'RSA-OAEP-256';
    if (type === 'ec') return 'ECDH-ES+A256KW';
  } else {
    if (type === 'ed25519') return 'EdDSA';
    if (type === 'ec') return 'ES256';
    if (type === 'rsa') return 'PS256';
  }
  throw new JoseFailure('invalid_key', `no ${use} algorithm for a ${type ?? 'unknown'} key`);
}

const generate = promisify(generateNodeKeyPair);

/** A fresh key pair for `alg` (RSA: 2048 bits or `rsaBits`). */
export async function generateKeyPair(alg: JoseAlg, rsaBits = 2048): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  switch (alg) {
    case 'RSA-OAEP-256':
    case 'PS256':
    case 'RS256':
      return generate('rsa', { modulusLength: Math.max(rsaBits, MIN_RSA_BITS) });
    case 'ECDH-ES+A256KW':
    case 'ES256':
      return generate('ec', { namedCurve: 'prime256v1' });
    case 'EdDSA':
      return generate('ed25519');
  }
}
