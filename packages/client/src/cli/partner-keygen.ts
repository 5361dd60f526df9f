#!/usr/bin/env node
/**
 * Makes a partner's key pairs: one to sign requests, one the gateway encrypts answers to. Writes
 * the private JWKs (0600, never overwritten without --force), the public JWKs, and
 * `registration.json`, the part the gateway operator registers for the project. With --x509, also
 * self-signed certificates for the public keys, for partners whose key management exchanges
 * certificates (RSA keys: node-forge signs certificates with RSA only).
 *
 * The keys go to a folder outside any checkout by default; a folder inside a git working tree is
 * refused unless git ignores it, so a private key cannot be committed by accident.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type NodeForge from 'node-forge';
import { KEY_FILES, defaultKeysDir } from '../key-folder.js';
import {
  KEY_MANAGEMENT_ALGS,
  SIGNATURE_ALGS,
  generateKeyPair,
  isKeyManagementAlg,
  isSignatureAlg,
  jwkThumbprint,
  privateJwk,
  publicJwk,
  type KeyObject,
} from '../jose/index.js';

const HELP = `Usage: card-gateway-keygen [options]
       (in the gateway's repository: npm run partner:keygen -- [options])

Makes a partner's signing and encryption key pairs as JWK files.

Options:
  --out DIR               folder to write to (env PARTNER_KEYS_DIR; default
                          ${defaultKeysDir({})}). A folder inside a git
                          working tree must be git-ignored.
  --signing-alg ALG       ${SIGNATURE_ALGS.join(' | ')} (default: ES256)
  --encryption-alg ALG    ${KEY_MANAGEMENT_ALGS.join(' | ')} (default: ECDH-ES+A256KW)
  --kid-prefix PREFIX     key ids are PREFIX-sig-… and PREFIX-enc-… (default: partner)
  --x509                  also write a self-signed X.509 certificate per public key
                          (RSA keys only: use PS256/RS256 and RSA-OAEP-256; needs the
                          node-forge package installed beside this one)
  --subject NAME          certificate subject common name (default: the key id)
  --days N                certificate validity in days (default: 365)
  --force                 overwrite existing files
  --help                  show this help

Writes (the folder 0700, private files 0600: readable by the owner only):
  signing.private.jwk.json     encryption.private.jwk.json     keep these secret
  signing.public.jwk.json      encryption.public.jwk.json
  registration.json            give this to the gateway operator to register the project
  signing.cert.pem, encryption.cert.pem   with --x509
`;

function fail(message: string): never {
  process.stderr.write(`partner-keygen: ${message}\n(see --help)\n`);
  process.exit(2);
}

type Forge = typeof NodeForge;

/** node-forge is an optional peer dependency: only --x509 needs it. */
async function loadForge(): Promise<Forge> {
  try {
    return (await import('node-forge')).default;
  } catch {
    fail('--x509 needs the node-forge package: npm install node-forge');
  }
}

const run = promisify(execFile);

/** The git working tree `dir` lies in, if any (the nearest ancestor holding `.git`). */
function workingTreeOf(dir: string): string | undefined {
  for (let at = dir; ; at = path.dirname(at)) {
    if (existsSync(path.join(at, '.git'))) return at;
    if (path.dirname(at) === at) return undefined;
  }
}

/** Refuses a folder where `git add` would pick the private keys up. */
async function refuseCommittableFolder(out: string): Promise<void> {
  const tree = workingTreeOf(out);
  if (!tree) return;
  try {
    // Exit 0: ignored. Exit 1: not ignored (execFile rejects).
    await run('git', ['-C', tree, 'check-ignore', '-q', path.join(out, KEY_FILES.signingPrivate)]);
  } catch (err) {
    const notIgnored = (err as { code?: unknown }).code === 1;
    fail(
      `${out} is inside the git working tree ${tree} and ${notIgnored ? 'is not git-ignored' : 'git could not say whether it is ignored'}: ` +
        `private keys there could be committed. Add the folder to .gitignore, or write elsewhere (default: ${defaultKeysDir({})})`,
    );
  }
}

function selfSignedCertificate(forge: Forge, privateKey: KeyObject, commonName: string, days: number, use: 'sig' | 'enc'): string {
  const forgePrivate = forge.pki.privateKeyFromPem(privateKey.export({ format: 'pem', type: 'pkcs1' }) as string);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(forgePrivate.n, forgePrivate.e);
  // A positive serial: the leading byte below 0x80.
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date();
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    use === 'sig' ? { name: 'keyUsage', digitalSignature: true } : { name: 'keyUsage', keyEncipherment: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forgePrivate, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        out: { type: 'string' },
        'signing-alg': { type: 'string', default: 'ES256' },
        'encryption-alg': { type: 'string', default: 'ECDH-ES+A256KW' },
        'kid-prefix': { type: 'string', default: 'partner' },
        x509: { type: 'boolean', default: false },
        subject: { type: 'string' },
        days: { type: 'string', default: '365' },
        force: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const signingAlg = values['signing-alg'];
  const encryptionAlg = values['encryption-alg'];
  if (!isSignatureAlg(signingAlg)) fail(`--signing-alg must be one of ${SIGNATURE_ALGS.join(', ')}`);
  if (!isKeyManagementAlg(encryptionAlg)) fail(`--encryption-alg must be one of ${KEY_MANAGEMENT_ALGS.join(', ')}`);
  const days = Number(values.days);
  if (!Number.isInteger(days) || days < 1 || days > 3650) fail('--days must be a whole number from 1 to 3650');
  if (values.x509 && !(signingAlg === 'PS256' || signingAlg === 'RS256') ) fail('--x509 needs an RSA signing key (--signing-alg PS256 or RS256)');
  if (values.x509 && encryptionAlg !== 'RSA-OAEP-256') fail('--x509 needs an RSA encryption key (--encryption-alg RSA-OAEP-256)');

  const forge = values.x509 ? await loadForge() : undefined;

  const out = values.out === undefined ? defaultKeysDir() : path.resolve(values.out);
  await refuseCommittableFolder(out);
  await mkdir(out, { recursive: true, mode: 0o700 });
  const flag = values.force ? 'w' : 'wx';
  const write = async (name: string, content: string, mode: number) => {
    const file = path.join(out, name);
    try {
      await writeFile(file, content, { mode, flag });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') fail(`${file} exists (use --force to replace it)`);
      throw err;
    }
    // A replaced file keeps its old mode: set it.
    await chmod(file, mode);
  };

  const registration: Record<string, { kid: string; alg: string; jwk: Record<string, unknown>; status: 'active' }[]> = {
    signing_keys: [],
    encryption_keys: [],
  };
  for (const [use, alg] of [['sig', signingAlg], ['enc', encryptionAlg]] as const) {
    const name = use === 'sig' ? 'signing' : 'encryption';
    const { privateKey } = await generateKeyPair(alg);
    const kid = `${values['kid-prefix']}-${use}-${jwkThumbprint(privateKey).slice(0, 16)}`;
    const pub = publicJwk(privateKey);
    await write(`${name}.private.jwk.json`, `${JSON.stringify({ ...privateJwk(privateKey), kid, alg, use }, null, 2)}\n`, 0o600);
    await write(`${name}.public.jwk.json`, `${JSON.stringify({ ...pub, kid, alg, use }, null, 2)}\n`, 0o644);
    registration[use === 'sig' ? 'signing_keys' : 'encryption_keys']!.push({ kid, alg, jwk: pub, status: 'active' });
    if (forge) await write(`${name}.cert.pem`, selfSignedCertificate(forge, privateKey, values.subject ?? kid, days, use), 0o644);
    process.stdout.write(`${name} key: kid ${kid}, alg ${alg}\n`);
  }
  await write(KEY_FILES.registration, `${JSON.stringify(registration, null, 2)}\n`, 0o644);
  process.stdout.write(
    `written to ${out}\n` +
      `  private keys (mode 0600, keep them secret): ${KEY_FILES.signingPrivate}, ${KEY_FILES.encryptionPrivate}\n` +
      `  give ${KEY_FILES.registration} (public keys only) to the gateway operator to register the project\n`,
  );
}

await main();
