/**
 * Removes secrets from anything about to be logged. Two nets, because either alone leaks:
 * - by key: fields whose names say they hold a secret are replaced whole, at any depth;
 * - by value: strings are scanned for JOSE tokens, PEM blocks, bearer tokens and card numbers,
 *   so a secret that slipped into a message or an unexpected field is still caught.
 */

import { luhnValid } from '../cards/luhn.js';

export const REDACTED = '[REDACTED]';

const SECRET_KEY =
  /^(pan|cvv|cvc|cvv2|card_?number|number|expiry(_?(month|year))?|exp_?(month|year)|pin|password|passphrase|secret|token|access_?token|authorization|cookie|set-cookie|api_?key|private_?key|key|keys|jwk|jwe|jws|jwt|d|p|q|dp|dq|qi|k|plaintext|payload|body|claims|ciphertext|encrypted|data_?key)$/i;

// Compact JWS/JWE: base64url header starting with '{"' (eyJ), then 2 or 4 more segments.
const JOSE_TOKEN = /eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){2,4}/g;
const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(?:-----END [A-Z0-9 ]+-----|$)/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
// 13-19 digits, optionally grouped by spaces or dashes: checked with Luhn before redacting.
const DIGIT_RUN = /\b\d(?:[ -]?\d){12,18}\b/g;


export function redactString(value: string): string {
  return value
    .replace(PEM_BLOCK, REDACTED)
    .replace(JOSE_TOKEN, REDACTED)
    .replace(BEARER, `$1 ${REDACTED}`)
    .replace(DIGIT_RUN, (run) => (luhnValid(run.replace(/[ -]/g, '')) ? REDACTED : run));
}

/** One named field: replaced whole when its name says it holds a secret, else redacted deeply. */
export function redactField(key: string, value: unknown): unknown {
  return SECRET_KEY.test(key) ? REDACTED : redact(value);
}

/** Deep copy of `value` with secrets removed. Cycles and depth are bounded. */
export function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8 || seen.has(value)) return '[…]';
  seen.add(value);
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, seen));
  if (value instanceof Error) {
    return { name: value.name, message: redactString(value.message), stack: value.stack && redactString(value.stack) };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) ? REDACTED : redact(v, depth + 1, seen);
  }
  return out;
}
