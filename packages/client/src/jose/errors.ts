import { errors } from 'jose';

/**
 * Why a JOSE operation failed, in the vocabulary of the contract's 401 slugs. Messages are fixed
 * and vague on purpose: they must not tell an attacker which check failed beyond the slug, and
 * they never contain any part of the input.
 */
export type JoseFailureReason =
  | 'invalid_encryption'
  | 'unknown_key_id'
  | 'unsupported_algorithm'
  | 'invalid_signature'
  | 'invalid_key';

export class JoseFailure extends Error {
  override name = 'JoseFailure';

  constructor(
    readonly reason: JoseFailureReason,
    /** Internal detail for debugging (never from the input); not for clients. */
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
  }
}

type Phase = 'decrypt' | 'verify';

/**
 * Maps an error thrown by jose (or by WebCrypto underneath it) to our failure reason. Only the
 * error's fixed `code` is read. Anything unexpected during decryption or verification is still the
 * input's fault, so it maps to the phase's failure rather than to a 500.
 */
export function toJoseFailure(err: unknown, phase: Phase): JoseFailure {
  if (err instanceof JoseFailure) return err;
  const fallback: JoseFailureReason = phase === 'decrypt' ? 'invalid_encryption' : 'invalid_signature';
  if (err instanceof errors.JOSEError) {
    switch (err.code) {
      case 'ERR_JOSE_ALG_NOT_ALLOWED':
      case 'ERR_JOSE_NOT_SUPPORTED':
        return new JoseFailure('unsupported_algorithm', err.code);
      case 'ERR_JWE_DECRYPTION_FAILED':
      case 'ERR_JWE_INVALID':
        return new JoseFailure('invalid_encryption', err.code);
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      case 'ERR_JWS_INVALID':
        return new JoseFailure('invalid_signature', err.code);
      default:
        return new JoseFailure(fallback, err.code);
    }
  }
  const name = err instanceof Error ? err.name : typeof err;
  return new JoseFailure(fallback, `unexpected ${name}`);
}
