import {
  isContentEncryptionAlg,
  isKeyManagementAlg,
  isSignatureAlg,
  type ContentEncryptionAlg,
  type KeyManagementAlg,
  type SignatureAlg,
} from './algorithms.js';
import { JoseFailure, type JoseFailureReason } from './errors.js';

/**
 * Reads compact serializations ourselves, before jose sees them, so that every allow-list and
 * shape check happens before any cryptography runs (and does not depend on one library's
 * parsing). Only the standard RFC 7515/7516 header parameters are read.
 */

const BASE64URL = /^[A-Za-z0-9_-]*$/;
// A protected header is a few dozen bytes; an ECDH-ES one with its `epk` is a few hundred.
const MAX_HEADER_CHARS = 4096;
const MAX_KID_CHARS = 256;

export interface JweHeader {
  alg: KeyManagementAlg;
  enc: ContentEncryptionAlg;
  kid: string;
}

export interface JwsHeader {
  alg: SignatureAlg;
  kid: string;
}

export function splitCompact(token: string, parts: 3 | 5, reason: JoseFailureReason): string[] {
  const segments = token.split('.');
  if (segments.length !== parts) throw new JoseFailure(reason, `expected ${parts} segments`);
  for (const segment of segments) {
    if (!BASE64URL.test(segment)) throw new JoseFailure(reason, 'segment is not base64url');
  }
  return segments;
}

/** Decodes a base64url JSON object; anything else is `reason`. */
export function decodeJsonObject(segment: string, reason: JoseFailureReason, maxChars = Number.POSITIVE_INFINITY): Record<string, unknown> {
  if (segment.length === 0 || segment.length > maxChars) throw new JoseFailure(reason, 'segment size');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new JoseFailure(reason, 'segment is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new JoseFailure(reason, 'segment is not a JSON object');
  }
  return parsed as Record<string, unknown>;
}

function readKid(header: Record<string, unknown>, reason: JoseFailureReason): string {
  const kid = header.kid;
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_CHARS) throw new JoseFailure(reason, 'kid missing or malformed');
  return kid;
}

// Extensions we do not implement: `crit` must be understood or refused (RFC 7515 4.1.11), `zip`
// would let a small body inflate, `b64: false` changes what is signed.
function refuseExtensions(header: Record<string, unknown>): void {
  for (const name of ['crit', 'zip', 'b64']) {
    if (Object.hasOwn(header, name)) throw new JoseFailure('unsupported_algorithm', `header parameter ${name} is not supported`);
  }
}

/** Checks a compact JWE's protected header against the allow-lists. */
export function inspectJwe(token: string): { header: JweHeader; segments: string[] } {
  const segments = splitCompact(token, 5, 'invalid_encryption');
  const raw = decodeJsonObject(segments[0]!, 'invalid_encryption', MAX_HEADER_CHARS);
  if (!isKeyManagementAlg(raw.alg)) throw new JoseFailure('unsupported_algorithm', 'JWE alg not allowed');
  if (!isContentEncryptionAlg(raw.enc)) throw new JoseFailure('unsupported_algorithm', 'JWE enc not allowed');
  refuseExtensions(raw);
  const kid = readKid(raw, 'unknown_key_id');
  // Both allowed algorithms carry a wrapped key; the empty key segment of `dir` cannot pass here.
  if (segments[1]!.length === 0 || segments[2]!.length === 0 || segments[4]!.length === 0) {
    throw new JoseFailure('invalid_encryption', 'empty JWE segment');
  }
  return { header: { alg: raw.alg, enc: raw.enc, kid }, segments };
}

/** Checks a compact JWS's protected header against the allow-list and reads its (unverified) payload. */
export function inspectJws(token: string): { header: JwsHeader; unverifiedClaims: Record<string, unknown> } {
  const segments = splitCompact(token, 3, 'invalid_signature');
  const raw = decodeJsonObject(segments[0]!, 'invalid_signature', MAX_HEADER_CHARS);
  if (!isSignatureAlg(raw.alg)) throw new JoseFailure('unsupported_algorithm', 'JWS alg not allowed');
  refuseExtensions(raw);
  const kid = readKid(raw, 'invalid_signature');
  if (segments[2]!.length === 0) throw new JoseFailure('invalid_signature', 'empty signature');
  const unverifiedClaims = decodeJsonObject(segments[1]!, 'invalid_signature');
  return { header: { alg: raw.alg, kid }, unverifiedClaims };
}
