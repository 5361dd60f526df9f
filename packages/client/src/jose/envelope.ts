import { CompactEncrypt, CompactSign, compactDecrypt, compactVerify } from 'jose';
import { CONTENT_ENCRYPTION_ALGS, type KeyManagementAlg, type SignatureAlg } from './algorithms.js';
import { JoseFailure, toJoseFailure } from './errors.js';
import { inspectJwe, inspectJws, type JweHeader } from './header.js';
import type { KeyObject } from './keys.js';

/** A private key able to open JWEs addressed to `kid` with `alg`. */
export interface DecryptionKey {
  kid: string;
  alg: KeyManagementAlg;
  key: KeyObject;
}

/** A public key able to check signatures made with `alg` by `kid`. */
export interface VerificationKey {
  kid: string;
  alg: SignatureAlg;
  key: KeyObject;
}

/** A key to sign or encrypt with, and the header values that name it. */
export interface SigningKey {
  kid: string;
  alg: SignatureAlg;
  key: KeyObject;
}

export interface EncryptionKey {
  kid: string;
  alg: KeyManagementAlg;
  key: KeyObject;
}

/**
 * Opens a compact JWE. The header is checked against the allow-lists and the key is chosen by
 * `kid` before any cryptography runs; the key's own algorithm must match the header's.
 */
export async function decryptCompact(
  token: string,
  findKey: (kid: string) => DecryptionKey | undefined,
): Promise<{ plaintext: Uint8Array; header: JweHeader }> {
  const { header } = inspectJwe(token);
  const entry = findKey(header.kid);
  if (!entry) throw new JoseFailure('unknown_key_id', 'no decryption key with this kid');
  if (entry.alg !== header.alg) throw new JoseFailure('invalid_encryption', 'kid does not belong to this alg');
  try {
    const { plaintext } = await compactDecrypt(token, entry.key, {
      keyManagementAlgorithms: [entry.alg],
      contentEncryptionAlgorithms: [...CONTENT_ENCRYPTION_ALGS],
    });
    return { plaintext, header };
  } catch (err) {
    throw toJoseFailure(err, 'decrypt');
  }
}

/** Verifies a compact JWS with one key and returns its payload bytes. */
export async function verifyCompact(token: string, key: VerificationKey): Promise<Uint8Array> {
  try {
    const { payload, protectedHeader } = await compactVerify(token, key.key, { algorithms: [key.alg] });
    if (protectedHeader.kid !== key.kid) throw new JoseFailure('invalid_signature', 'kid changed');
    return payload;
  } catch (err) {
    throw toJoseFailure(err, 'verify');
  }
}

export async function signCompact(payload: Uint8Array, key: SigningKey): Promise<string> {
  return new CompactSign(payload).setProtectedHeader({ alg: key.alg, kid: key.kid }).sign(key.key);
}

/** Encrypts (A256GCM) to a recipient key; `cty: "JWT"` marks a nested JWS, as RFC 7519 5.2 says. */
export async function encryptCompact(plaintext: Uint8Array, key: EncryptionKey, cty = 'JWT'): Promise<string> {
  return new CompactEncrypt(plaintext).setProtectedHeader({ alg: key.alg, enc: 'A256GCM', kid: key.kid, cty }).encrypt(key.key);
}

/** Signs then encrypts: the nested token of contract section 2, in either direction. */
export async function signThenEncrypt(payload: Uint8Array, signer: SigningKey, recipient: EncryptionKey): Promise<string> {
  const jws = await signCompact(payload, signer);
  return encryptCompact(new TextEncoder().encode(jws), recipient);
}

/** The verified contents of a nested (signed, then encrypted) token. */
export interface OpenedToken {
  claims: Record<string, unknown>;
  signedBy: VerificationKey;
  /** The gateway key the JWE was addressed to (for rotation metrics). */
  decryptedWith: string;
}

/**
 * Opens a nested token: decrypt, check the inner JWS header, let the caller choose the verification
 * key from the (still unverified) header and claims, verify, and only then hand back the claims.
 */
export async function openNested(
  token: string,
  findDecryptionKey: (kid: string) => DecryptionKey | undefined,
  chooseVerificationKey: (header: { alg: SignatureAlg; kid: string }, unverifiedClaims: Record<string, unknown>) => Promise<VerificationKey>,
): Promise<OpenedToken> {
  const { plaintext, header } = await decryptCompact(token, findDecryptionKey);
  let jws: string;
  try {
    jws = new TextDecoder('utf-8', { fatal: true }).decode(plaintext);
  } catch {
    throw new JoseFailure('invalid_signature', 'plaintext is not text');
  }
  const inspected = inspectJws(jws);
  const key = await chooseVerificationKey(inspected.header, inspected.unverifiedClaims);
  if (key.alg !== inspected.header.alg) throw new JoseFailure('invalid_signature', 'key is registered for another alg');
  await verifyCompact(jws, key);
  // The claims were parsed from the very payload segment that has just been verified.
  return { claims: inspected.unverifiedClaims, signedBy: key, decryptedWith: header.kid };
}
