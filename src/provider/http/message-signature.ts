import { createHash, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createSigner, createVerifier, ExpiredError, httpbis, type VerifyingKey } from 'http-message-signatures';
import { SIGNATURE_LABEL } from './wire.js';

/**
 * RFC 9530 Content-Digest and RFC 9421 HTTP message signatures (Ed25519) for the provider link,
 * in both directions: the gateway signs its requests, the provider signs its webhooks. The
 * signature base and the header syntax are the `http-message-signatures` library's (README,
 * "Dependencies and why"); this file only fixes what we sign and how keys are read.
 */

/** RFC 9530: `sha-256=:<base64>:` of the exact body bytes. */
export function contentDigest(body: Buffer | string): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

/** True when `header` names a sha-256 digest equal to the body's (other algorithms are not accepted). */
export function digestMatches(header: string | undefined, body: Buffer): boolean {
  return header !== undefined && header.trim() === contentDigest(body);
}

/** An Ed25519 key from a JWK in JSON (the form the configuration carries). */
export function privateKeyFromJwk(json: string): KeyObject {
  return createPrivateKey({ key: JSON.parse(json) as JsonWebKey, format: 'jwk' });
}

export function publicKeyFromJwk(json: string): KeyObject {
  return createPublicKey({ key: JSON.parse(json) as JsonWebKey, format: 'jwk' });
}

export interface SignableMessage {
  method: string;
  url: string;
  headers: Record<string, string>;
}

/** Adds Signature-Input and Signature over `components`, with `created` and `keyid`. */
export async function signMessage(
  message: SignableMessage,
  key: { keyId: string; privateKey: KeyObject },
  components: readonly string[],
  now = new Date(),
): Promise<Record<string, string>> {
  const signed = await httpbis.signMessage(
    {
      key: createSigner(key.privateKey, 'ed25519', key.keyId),
      name: SIGNATURE_LABEL,
      fields: [...components],
      params: ['created', 'keyid', 'alg'],
      paramValues: { created: now },
    },
    { method: message.method, url: message.url, headers: { ...message.headers } },
  );
  return signed.headers;
}

export type SignatureRefusal = 'unsigned' | 'unknown_key' | 'stale' | 'bad_signature';

export class SignatureRejected extends Error {
  override name = 'SignatureRejected';
  constructor(readonly reason: SignatureRefusal) {
    super(`signature rejected: ${reason}`);
  }
}

/**
 * Verifies a signed message: a known keyid, every `required` component signed, `created` within
 * `maxAgeS` (and not ahead of our clock by more than a few seconds), and a valid Ed25519 signature.
 * Throws SignatureRejected with a reason that is safe to log.
 */
export async function verifyMessage(
  message: SignableMessage,
  keys: ReadonlyMap<string, KeyObject>,
  required: readonly string[],
  maxAgeS: number,
): Promise<string> {
  if (!message.headers['signature'] || !message.headers['signature-input']) throw new SignatureRejected('unsigned');
  let keyId: string | undefined;
  let result: boolean | null;
  try {
    result = await httpbis.verifyMessage(
      {
        keyLookup: (params): Promise<VerifyingKey | null> => {
          const key = typeof params.keyid === 'string' ? keys.get(params.keyid) : undefined;
          if (!key) return Promise.resolve(null);
          keyId = params.keyid;
          return Promise.resolve({ id: keyId, algs: ['ed25519'], verify: createVerifier(key, 'ed25519') });
        },
        requiredParams: ['created', 'keyid'],
        requiredFields: [...required],
        maxAge: maxAgeS,
        tolerance: 5,
      },
      { method: message.method, url: message.url, headers: message.headers },
    );
  } catch (err) {
    throw new SignatureRejected(err instanceof ExpiredError ? 'stale' : 'bad_signature');
  }
  if (result === null || keyId === undefined) throw new SignatureRejected('unknown_key');
  if (!result) throw new SignatureRejected('bad_signature');
  return keyId;
}
