/**
 * The JOSE layer the client is built on, and the only code that imports `jose` (an eslint rule
 * enforces it): allow-lists checked before any cryptography, key import and checks, sign-then-
 * encrypt and its opening. The gateway's secure channel uses these same functions
 * (`@card-gateway/client/jose`), so both sides of the envelope are one implementation.
 */
export * from './algorithms.js';
export { JoseFailure, type JoseFailureReason } from './errors.js';
export { inspectJwe, inspectJws, type JweHeader, type JwsHeader } from './header.js';
export {
  assertKeyFitsAlg,
  defaultAlgFor,
  generateKeyPair,
  importPrivateKey,
  importPublicKey,
  parsePrivateKey,
  jwkThumbprint,
  privateJwk,
  publicJwk,
  type Jwk,
  type KeyMaterial,
  type KeyObject,
} from './keys.js';
export {
  decryptCompact,
  encryptCompact,
  signCompact,
  openNested,
  signThenEncrypt,
  verifyCompact,
  type DecryptionKey,
  type OpenedToken,
  type EncryptionKey,
  type SigningKey,
  type VerificationKey,
} from './envelope.js';
