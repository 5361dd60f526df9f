import type { Responder } from '../http/respond.js';
import { signThenEncrypt, type EncryptionKey, type SigningKey } from '../jose/index.js';

export const JOSE_MEDIA_TYPE = 'application/jose';

/**
 * The responder of an authenticated request: the payload is signed by the gateway, then encrypted
 * to the project (contract section 2, Response). Installed as `res.locals.responder`, so the
 * central error handler seals errors the same way.
 */
export function sealingResponder(signer: SigningKey, recipient: EncryptionKey): Responder {
  return async (res, status, payload) => {
    const token = await sealPayload(payload, signer, recipient);
    // A Buffer, so Express adds no charset to the media type.
    res.status(status).type(JOSE_MEDIA_TYPE).send(Buffer.from(token, 'ascii'));
  };
}

/** How anything the gateway sends a partner is sealed: answers, and webhook events alike. */
export function sealPayload(payload: unknown, signer: SigningKey, recipient: EncryptionKey): Promise<string> {
  return signThenEncrypt(Buffer.from(JSON.stringify(payload), 'utf8'), signer, recipient);
}
