import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { devSecretFile } from '../config/dev-secret-file.js';

/**
 * The AES-256 data keys card secrets are encrypted under. New data is sealed with the active key;
 * every key of the ring still opens what it sealed, so keys rotate by adding a key, making it
 * active, and dropping the old one once nothing references it.
 */
export interface CardDataKeyRing {
  activeKeyId: string;
  keys: ReadonlyMap<string, Buffer>;
}

export class CardDataKeyError extends Error {
  override name = 'CardDataKeyError';
}

export const DEV_KEY_FILE = 'card-data-keys.json';

interface KeyFile {
  active_key_id: string;
  keys: Record<string, string>;
}

function decodeKey(id: string, base64: string): Buffer {
  const key = Buffer.from(base64, 'base64');
  if (key.length !== 32) throw new CardDataKeyError(`card data key "${id}" must be 32 bytes, base64-encoded`);
  return key;
}

export function keyRingFrom(entries: Iterable<[string, string]>, activeKeyId: string): CardDataKeyRing {
  const keys = new Map<string, Buffer>();
  for (const [id, value] of entries) keys.set(id, decodeKey(id, value));
  if (!keys.has(activeKeyId)) throw new CardDataKeyError(`active card data key "${activeKeyId}" is not in the ring`);
  return { activeKeyId, keys };
}

/**
 * The ring from CARD_DATA_KEYS / CARD_DATA_ACTIVE_KEY_ID; in development and test, when they are
 * unset, a key generated once into `<keysDir>/card-data-keys.json` (mode 0600). Production
 * configuration refuses to load without CARD_DATA_KEYS, so this never generates keys there.
 */
export async function loadCardDataKeys(config: Config): Promise<CardDataKeyRing> {
  if (config.CARD_DATA_KEYS && config.CARD_DATA_ACTIVE_KEY_ID) {
    return keyRingFrom(config.CARD_DATA_KEYS, config.CARD_DATA_ACTIVE_KEY_ID);
  }
  if (config.NODE_ENV === 'production') throw new CardDataKeyError('CARD_DATA_KEYS is required in production');
  const raw = await devSecretFile(path.join(config.keysDir, DEV_KEY_FILE), () => {
    const id = `dk_${new Date().toISOString().slice(0, 10).replaceAll('-', '')}_${randomBytes(3).toString('hex')}`;
    const content: KeyFile = { active_key_id: id, keys: { [id]: randomBytes(32).toString('base64') } };
    return JSON.stringify(content, null, 2);
  });
  const parsed = JSON.parse(raw) as KeyFile;
  return keyRingFrom(Object.entries(parsed.keys), parsed.active_key_id);
}
