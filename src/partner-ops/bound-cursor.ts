import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { devSecretFile } from '../config/dev-secret-file.js';
import { GatewayError } from '../errors/gateway-error.js';

/** What a partner's list cursor is valid for: the endpoint, the project and the filters of the walk. */
export interface CursorBinding {
  /** The endpoint's path. */
  endpoint: string;
  projectId: string;
  /** The request's filters as parsed (limit and cursor left out: the page size may change mid-walk). */
  filters: Record<string, unknown>;
}

/** The HMAC keys cursors are signed with: the first signs, every one verifies (rotation). */
export interface CursorKeyRing {
  signingKeyId: string;
  keys: ReadonlyMap<string, Buffer>;
}

export const DEV_CURSOR_KEY_FILE = 'cursor-keys.json';

/**
 * The ring from CURSOR_KEYS (`id:secret,...`, the first signs); in development and test, when it
 * is unset, one key generated once into `<keysDir>/cursor-keys.json` and shared by every process
 * using that folder. Production configuration refuses to load without CURSOR_KEYS.
 */
export async function loadCursorKeys(config: Pick<Config, 'CURSOR_KEYS' | 'NODE_ENV' | 'keysDir'>): Promise<CursorKeyRing> {
  let entries: [string, string][];
  if (config.CURSOR_KEYS && config.CURSOR_KEYS.size > 0) {
    entries = [...config.CURSOR_KEYS];
  } else {
    if (config.NODE_ENV === 'production') throw new Error('CURSOR_KEYS is required in production');
    const raw = await devSecretFile(path.join(config.keysDir, DEV_CURSOR_KEY_FILE), () =>
      JSON.stringify({ [`ck_${randomBytes(3).toString('hex')}`]: randomBytes(32).toString('base64url') }, null, 2),
    );
    entries = Object.entries(JSON.parse(raw) as Record<string, string>);
  }
  return { signingKeyId: entries[0]![0], keys: new Map(entries.map(([id, secret]) => [id, Buffer.from(secret, 'utf8')])) };
}

const FORMAT = /^([A-Za-z0-9_-]{1,200})\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{43})$/;

/** Dates as ISO strings, members in key order: the same filters always give the same text. */
function canonical(filters: Record<string, unknown>): string {
  const entries = Object.entries(filters)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(entries);
}

function refused(): GatewayError {
  return new GatewayError('validation_error', undefined, { issues: [{ path: 'cursor', message: 'is not a cursor this endpoint returned for these filters' }] });
}

/**
 * Partner list cursors, authenticated: `<position>.<key id>.<HMAC-SHA256>`, the MAC over the
 * position and what it is bound to (endpoint, project, filters). The position itself is the
 * list's own keyset cursor, opaque to partners. A cursor of another endpoint, another project or
 * other filters, a hand-made or altered one, or one under a key no longer listed is refused with
 * 400 validation_error before the store is asked anything.
 */
export class CursorSigner {
  constructor(private readonly ring: CursorKeyRing) {}

  sign(position: string, binding: CursorBinding): string {
    const keyId = this.ring.signingKeyId;
    return `${position}.${keyId}.${this.mac(keyId, position, binding).toString('base64url')}`;
  }

  /** The position a cursor carries, once it proves it was made for this binding. */
  open(cursor: string, binding: CursorBinding): string {
    const parts = FORMAT.exec(cursor);
    if (!parts) throw refused();
    const [, position, keyId, mac] = parts as unknown as [string, string, string, string];
    if (!this.ring.keys.has(keyId)) throw refused();
    const expected = this.mac(keyId, position, binding);
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw refused();
    return position;
  }

  private mac(keyId: string, position: string, binding: CursorBinding): Buffer {
    return createHmac('sha256', this.ring.keys.get(keyId)!)
      .update(['partner-cursor/1', binding.endpoint, binding.projectId, canonical(binding.filters), keyId, position].join('\n'))
      .digest();
  }
}
