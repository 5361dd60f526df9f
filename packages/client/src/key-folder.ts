import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isKeyManagementAlg, isSignatureAlg, type KeyManagementAlg, type KeyMaterial, type SignatureAlg } from './jose/index.js';

/** The files of a key folder made by `card-gateway-keygen`. */
export const KEY_FILES = {
  signingPrivate: 'signing.private.jwk.json',
  signingPublic: 'signing.public.jwk.json',
  encryptionPrivate: 'encryption.private.jwk.json',
  encryptionPublic: 'encryption.public.jwk.json',
  registration: 'registration.json',
} as const;

/**
 * Where the partner tools keep a project's keys unless told otherwise: `PARTNER_KEYS_DIR`, else
 * `card-gateway/partner-keys` in the user's configuration folder (`$XDG_CONFIG_HOME`, default
 * `~/.config`). Outside any project checkout, so private keys are never committed by accident.
 */
export function defaultKeysDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PARTNER_KEYS_DIR) return path.resolve(env.PARTNER_KEYS_DIR);
  const config = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(os.homedir(), '.config');
  return path.join(config, 'card-gateway', 'partner-keys');
}

/** The keys a PartnerClient signs with and opens answers with, as its options name them. */
export interface PartnerKeys {
  signingKey: { kid: string; alg: SignatureAlg; privateKey: KeyMaterial };
  encryptionKeys: { kid: string; alg: KeyManagementAlg; privateKey: KeyMaterial }[];
}

export class KeyFolderError extends Error {
  override name = 'KeyFolderError';
}

async function readPrivateJwk(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new KeyFolderError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  try {
    const jwk: unknown = JSON.parse(text);
    if (typeof jwk === 'object' && jwk !== null && !Array.isArray(jwk)) return jwk as Record<string, unknown>;
  } catch {
    // reported below, without the file's contents
  }
  throw new KeyFolderError(`${file} is not a JWK (JSON object)`);
}

/**
 * Reads the private keys of a folder made by `card-gateway-keygen` (each JWK carries its `kid`
 * and `alg`), ready to spread into PartnerClient's options.
 */
export async function loadKeyFolder(dir: string = defaultKeysDir()): Promise<PartnerKeys> {
  const signing = await readPrivateJwk(path.join(dir, KEY_FILES.signingPrivate));
  const encryption = await readPrivateJwk(path.join(dir, KEY_FILES.encryptionPrivate));
  if (typeof signing.kid !== 'string' || !isSignatureAlg(signing.alg)) throw new KeyFolderError(`${KEY_FILES.signingPrivate} lacks a kid or a signing alg`);
  if (typeof encryption.kid !== 'string' || !isKeyManagementAlg(encryption.alg)) throw new KeyFolderError(`${KEY_FILES.encryptionPrivate} lacks a kid or an encryption alg`);
  return {
    signingKey: { kid: signing.kid, alg: signing.alg, privateKey: signing },
    encryptionKeys: [{ kid: encryption.kid, alg: encryption.alg, privateKey: encryption }],
  };
}
