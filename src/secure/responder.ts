import { createHash } from 'node:crypto';
import type { Responder } from '../http/respond.js';
import { signThenEncrypt, type EncryptionKey, type SigningKey } from '../jose/index.js';

export const JOSE_MEDIA_TYPE = 'application/jose';

/**
 * What a sealed answer answers (contract section 2, Response binding). Signed together with the
 * payload, so nothing on the path can swap two genuine answers, replay an old one, or flip the
 * replay flag: the partner checks every member against the request it sent.
 */
export interface AnswerBinding {
  /** The gateway (its audience string): the answer's `iss`. */
  gateway: string;
  /** The project answered: the answer's `aud`. */
  projectId: string;
  /** The request's `jti` and `htu` as it sent them (null when that claim was not a string). */
  requestJti: string | null;
  requestHtu: string | null;
  /** base64url SHA-256 of the request body (the JWE compact serialization) as received. */
  requestHash: string;
}

/** The `req_sha256` member: what both sides compute over the request JWE's exact bytes. */
export function requestHash(token: string | Buffer): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * The responder of an authenticated request: the payload and its binding are signed by the
 * gateway, then encrypted to the project. Installed as `res.locals.responder` by the channel, so
 * every partner route and the central error handler seal and bind the same way. The replay flag
 * is read from the `Idempotent-Replayed` header whoever set it, and sealed with the rest.
 */
export function sealingResponder(signer: SigningKey, recipient: EncryptionKey, binding: AnswerBinding, now: () => number = Date.now): Responder {
  return async (res, status, payload) => {
    const sealed = {
      ...payload,
      iss: binding.gateway,
      aud: binding.projectId,
      iat: Math.floor(now() / 1000),
      req_jti: binding.requestJti,
      req_htu: binding.requestHtu,
      req_sha256: binding.requestHash,
      status,
      replayed: res.getHeader('idempotent-replayed') === 'true',
    };
    const token = await sealPayload(sealed, signer, recipient);
    // A Buffer, so Express adds no charset to the media type.
    res.status(status).type(JOSE_MEDIA_TYPE).send(Buffer.from(token, 'ascii'));
  };
}

/** How anything the gateway sends a partner is sealed: answers, and webhook events alike. */
export function sealPayload(payload: unknown, signer: SigningKey, recipient: EncryptionKey): Promise<string> {
  return signThenEncrypt(Buffer.from(JSON.stringify(payload), 'utf8'), signer, recipient);
}
