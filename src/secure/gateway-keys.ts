import { chmod, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import {
  GATEWAY_SIGNATURE_ALGS,
  KEY_MANAGEMENT_ALGS,
  JoseFailure,
  assertKeyFitsAlg,
  defaultAlgFor,
  generateKeyPair,
  jwkThumbprint,
  parsePrivateKey,
  privateJwk,
  publicJwk,
  type DecryptionKey,
  type JoseAlg,
  type Jwk,
  type KeyManagementAlg,
  type KeyObject,
  type SignatureAlg,
  type SigningKey,
} from '../jose/index.js';

/**
 * The gateway's own keys: the decryption keys partners encrypt to (several at once, for rotation)
 * and the key responses are signed with. From configuration (JWK, JWKS or PEM, inline or
 * `file:PATH`), or in development and tests generated once into `config.keysDir`.
 */
export interface GatewayKeys {
  decryptionKeys: ReadonlyMap<string, DecryptionKey>;
  /** The first key of GATEWAY_SIGNING_KEY signs; the others are only published (rotation). */
  signingKey: SigningKey;
  /** The public JWKS served at /.well-known/jwks.json. */
  jwks: { keys: Jwk[] };
}

export class GatewayKeyError extends Error {
  override name = 'GatewayKeyError';
}

const ENCRYPTION_FILE = 'encryption-keys.jwks.json';
const SIGNING_FILE = 'signing-keys.jwks.json';

interface ImportedKey {
  kid: string;
  alg: string;
  key: KeyObject;
}

async function readSetting(value: string, variable: string): Promise<string> {
  if (!value.startsWith('file:')) return value;
  try {
    return await readFile(value.slice('file:'.length), 'utf8');
  } catch (err) {
    throw new GatewayKeyError(`${variable}: cannot read ${value.slice('file:'.length)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Splits a setting into key materials: a JWKS, one JWK, or one or more PEM blocks. */
function materials(text: string, variable: string): (Jwk | string)[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new GatewayKeyError(`${variable}: not valid JSON`);
    }
    const object = parsed as { keys?: unknown };
    if (Array.isArray(object.keys)) return object.keys as Jwk[];
    return [parsed as Jwk];
  }
  const blocks = trimmed.match(/-----BEGIN [A-Z0-9 ]+-----[\s\S]+?-----END [A-Z0-9 ]+-----/g);
  if (!blocks) throw new GatewayKeyError(`${variable}: expected a JWK, a JWKS or PEM private keys`);
  return blocks;
}

function importAll(list: (Jwk | string)[], use: 'enc' | 'sig', variable: string): ImportedKey[] {
  const allowed: readonly string[] = use === 'enc' ? KEY_MANAGEMENT_ALGS : GATEWAY_SIGNATURE_ALGS;
  const seen = new Set<string>();
  return list.map((material, index) => {
    const jwk = typeof material === 'string' ? undefined : material;
    try {
      const key = parsePrivateKey(material);
      const alg = typeof jwk?.alg === 'string' ? jwk.alg : defaultAlgFor(key, use);
      if (!allowed.includes(alg)) throw new GatewayKeyError(`${variable}: key #${index + 1}: alg ${alg} is not one of ${allowed.join(', ')}`);
      assertKeyFitsAlg(key, alg as JoseAlg);
      const kid = typeof jwk?.kid === 'string' && jwk.kid.length > 0 ? jwk.kid : jwkThumbprint(key);
      if (seen.has(kid)) throw new GatewayKeyError(`${variable}: kid ${kid} appears twice`);
      seen.add(kid);
      return { kid, alg, key };
    } catch (err) {
      if (err instanceof GatewayKeyError) throw err;
      const why = err instanceof JoseFailure ? err.detail : 'unreadable key';
      throw new GatewayKeyError(`${variable}: key #${index + 1}: ${why}`);
    }
  });
}

function toDecryptionKeys(keys: ImportedKey[]): Map<string, DecryptionKey> {
  return new Map(keys.map(({ kid, alg, key }) => [kid, { kid, alg: alg as KeyManagementAlg, key }]));
}

function toSigningKeys(keys: ImportedKey[]): SigningKey[] {
  return keys.map(({ kid, alg, key }) => ({ kid, alg: alg as SignatureAlg, key }));
}

function publish(key: { kid: string; alg: string; key: KeyObject }, use: 'enc' | 'sig'): Jwk {
  return { ...publicJwk(key.key), kid: key.kid, use, alg: key.alg };
}

/** Writes a file holding private keys: 0600, created whole or not at all, never overwritten. */
async function writeOnce(file: string, content: string): Promise<boolean> {
  const temp = `${file}.${randomUUID()}.tmp`;
  await writeFile(temp, content, { mode: 0o600, flag: 'wx' });
  try {
    await link(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false; // another process won the race
    throw err;
  } finally {
    await rm(temp, { force: true });
  }
}

async function generatedSetting(dir: string, file: string, algs: ('RSA-OAEP-256' | 'ECDH-ES+A256KW' | 'EdDSA')[], use: 'enc' | 'sig', logger: Logger): Promise<string> {
  const target = path.join(dir, file);
  try {
    return await readFile(target, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keys: Jwk[] = [];
  for (const alg of algs) {
    const { privateKey } = await generateKeyPair(alg);
    keys.push({ ...privateJwk(privateKey), kid: `gw-${use}-${jwkThumbprint(privateKey).slice(0, 16)}`, use, alg });
  }
  if (await writeOnce(target, `${JSON.stringify({ keys }, null, 2)}\n`)) {
    logger.info('generated development gateway keys', { file: target, use });
  }
  await chmod(target, 0o600);
  return readFile(target, 'utf8');
}

export async function loadGatewayKeys(config: Config, logger: Logger): Promise<GatewayKeys> {
  const generate = config.NODE_ENV !== 'production';
  let encryptionText: string;
  if (config.GATEWAY_ENCRYPTION_KEYS) encryptionText = await readSetting(config.GATEWAY_ENCRYPTION_KEYS, 'GATEWAY_ENCRYPTION_KEYS');
  else if (generate) encryptionText = await generatedSetting(config.keysDir, ENCRYPTION_FILE, ['RSA-OAEP-256', 'ECDH-ES+A256KW'], 'enc', logger);
  else throw new GatewayKeyError('GATEWAY_ENCRYPTION_KEYS: required in production');

  let signingText: string;
  if (config.GATEWAY_SIGNING_KEY) signingText = await readSetting(config.GATEWAY_SIGNING_KEY, 'GATEWAY_SIGNING_KEY');
  else if (generate) signingText = await generatedSetting(config.keysDir, SIGNING_FILE, ['EdDSA'], 'sig', logger);
  else throw new GatewayKeyError('GATEWAY_SIGNING_KEY: required in production');

  const encryption = importAll(materials(encryptionText, 'GATEWAY_ENCRYPTION_KEYS'), 'enc', 'GATEWAY_ENCRYPTION_KEYS');
  const signing = importAll(materials(signingText, 'GATEWAY_SIGNING_KEY'), 'sig', 'GATEWAY_SIGNING_KEY');
  if (encryption.length === 0) throw new GatewayKeyError('GATEWAY_ENCRYPTION_KEYS: no key');
  const decryptionKeys = toDecryptionKeys(encryption);
  const signingKeys = toSigningKeys(signing);
  const signingKey = signingKeys[0];
  if (!signingKey) throw new GatewayKeyError('GATEWAY_SIGNING_KEY: no key');

  return {
    decryptionKeys,
    signingKey,
    jwks: { keys: [...encryption.map((k) => publish(k, 'enc')), ...signingKeys.map((k) => publish(k, 'sig'))] },
  };
}
