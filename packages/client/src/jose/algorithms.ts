/**
 * The algorithms the gateway speaks (contract section 2). Anything else is refused before any
 * cryptography runs: `none`, `dir`, symmetric and password-based algorithms are not on any list.
 */

export const KEY_MANAGEMENT_ALGS = ['RSA-OAEP-256', 'ECDH-ES+A256KW'] as const;
export type KeyManagementAlg = (typeof KEY_MANAGEMENT_ALGS)[number];

export const CONTENT_ENCRYPTION_ALGS = ['A256GCM'] as const;
export type ContentEncryptionAlg = (typeof CONTENT_ENCRYPTION_ALGS)[number];

export const SIGNATURE_ALGS = ['ES256', 'PS256', 'RS256', 'EdDSA'] as const;
export type SignatureAlg = (typeof SIGNATURE_ALGS)[number];

/** The gateway signs responses with a key that signs fast. */
export const GATEWAY_SIGNATURE_ALGS = ['EdDSA', 'ES256'] as const satisfies readonly SignatureAlg[];

export function isKeyManagementAlg(value: unknown): value is KeyManagementAlg {
  return typeof value === 'string' && (KEY_MANAGEMENT_ALGS as readonly string[]).includes(value);
}

export function isContentEncryptionAlg(value: unknown): value is ContentEncryptionAlg {
  return typeof value === 'string' && (CONTENT_ENCRYPTION_ALGS as readonly string[]).includes(value);
}

export function isSignatureAlg(value: unknown): value is SignatureAlg {
  return typeof value === 'string' && (SIGNATURE_ALGS as readonly string[]).includes(value);
}

export type JoseAlg = KeyManagementAlg | SignatureAlg;
