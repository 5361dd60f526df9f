/**
 * Our JOSE module: the only code that imports `jose` (an eslint rule enforces it). The gateway's
 * secure channel and the partner client both build on these functions.
 */
export * from './algorithms.js';
export { JoseFailure, type JoseFailureReason } from './errors.js';
export { inspectJwe, inspectJws, type JweHeader, type JwsHeader } from './header.js';
export {
  KeyCache,
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
