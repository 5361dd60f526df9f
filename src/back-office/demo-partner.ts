import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Connection } from 'mongoose';
import type { Config } from '../config/config.js';
import { LedgerService } from '../ledger/ledger-service.js';
import type { Logger } from '../logging/logger.js';
import { parseDecimal } from '../money/money.js';
import type { Actor } from './audit-log.js';
import { createBackOffice } from './back-office.js';

/**
 * The sandbox's demo partner: on the embedded development store, the gateway makes sure a demo
 * project exists with a key pair (the private halves written to a git-ignored file, mode 0600), a
 * product, a verified cardholder and a funded balance, so `npm run demo` can issue a card right
 * after `npm start`. Every step is idempotent; a restart changes nothing that is already right.
 */

export const DEMO = {
  projectId: 'prj_demo',
  productCode: 'DEMO_VIRTUAL_USD',
  productId: 900_001,
  externalUserId: 'demo-user-1',
  /** The balance is topped back up to this when it falls below `lowWater`. */
  float: '10000.00',
  lowWater: '1000.00',
  keysFile: 'demo-partner.json',
} as const;

/** What `npm run demo` reads: everything a partner needs to call the gateway. */
export interface DemoPartnerFile {
  project_id: string;
  product_code: string;
  external_user_id: string;
  signing_key: { kid: string; alg: 'ES256'; private_jwk: Record<string, unknown> };
  encryption_key: { kid: string; alg: 'ECDH-ES+A256KW'; private_jwk: Record<string, unknown> };
}

export function demoPartnerFile(config: Pick<Config, 'keysDir'>): string {
  return path.join(config.keysDir, DEMO.keysFile);
}

/** True where the bootstrap runs: development on the embedded store, never with a real database. */
export function demoBootstrapApplies(config: Pick<Config, 'NODE_ENV' | 'MONGODB_URI'>): boolean {
  return config.NODE_ENV === 'development' && !config.MONGODB_URI;
}

export async function ensureDemoPartner(deps: { connection: Connection; config: Config; logger: Logger }): Promise<DemoPartnerFile> {
  const { connection, config, logger } = deps;
  const bo = createBackOffice(connection);
  const actor: Actor = { staff: 'system:demo-bootstrap', via: 'system', requestId: `bootstrap-${Date.now().toString(36)}` };
  const file = demoPartnerFile(config);

  const project = await bo.projects.get(DEMO.projectId).catch(() => undefined);
  if (!project) await bo.projects.create(actor, { project_id: DEMO.projectId, name: 'Demo partner (sandbox)', currency: 'USD' });

  // Keys: reuse the file when the project still trusts its keys; otherwise make new ones and
  // retire whatever the project had (the private halves are gone with the old file).
  let keys = await readKeys(file);
  const current = await bo.projects.load(DEMO.projectId);
  const trusted = (list: { kid: string; status: string }[], kid: string | undefined) => list.some((k) => k.kid === kid && k.status === 'active');
  if (!keys || !trusted(current.signing_keys, keys.signing_key.kid) || !trusted(current.encryption_keys, keys.encryption_key.kid)) {
    keys = newKeys(current.signing_keys.length + current.encryption_keys.length);
    await bo.projects.addKey(actor, DEMO.projectId, 'signing', { alg: 'ES256', kid: keys.signing_key.kid, jwk: publicOf(keys.signing_key.private_jwk) });
    await bo.projects.addKey(actor, DEMO.projectId, 'encryption', { alg: 'ECDH-ES+A256KW', kid: keys.encryption_key.kid, jwk: publicOf(keys.encryption_key.private_jwk) });
    for (const k of current.signing_keys.filter((k) => k.status === 'active')) await bo.projects.retireKey(actor, DEMO.projectId, 'signing', k.kid, true);
    for (const k of current.encryption_keys.filter((k) => k.status === 'active')) await bo.projects.retireKey(actor, DEMO.projectId, 'encryption', k.kid, true);
    await writeKeys(file, keys);
    logger.info('demo partner keys written', { file });
  }
  if (current.status !== 'active') await bo.projects.setStatus(actor, DEMO.projectId, 'active');

  const product = await bo.products.get(DEMO.productCode).catch(() => undefined);
  if (!product) {
    await bo.products.create(actor, {
      product_code: DEMO.productCode,
      product_id: DEMO.productId,
      name: 'Demo virtual card (USD)',
      currency: 'USD',
      issue_fee: '1.00',
      initial_balance_min: '0',
      initial_balance_max: '500.00',
      limits: { per_transaction: '250.00', daily: '500.00', monthly: '2000.00' },
    });
  } else if (!product.active) {
    await bo.products.update(actor, DEMO.productCode, { active: true });
  }

  const cardholder = await bo.cardholders.get(DEMO.projectId, DEMO.externalUserId).catch(() => undefined);
  if (!cardholder) {
    await bo.cardholders.create(actor, DEMO.projectId, { external_user_id: DEMO.externalUserId, first_name: 'Demo', last_name: 'User', verification_status: 'verified' });
  } else if (cardholder.verification_status !== 'verified') {
    await bo.cardholders.setVerification(actor, DEMO.projectId, DEMO.externalUserId, { verification_status: 'verified' });
  }

  // Topped up under a key derived from the chain's length, so two gateways starting together on
  // the same store fund it once, not twice.
  const ledger = new LedgerService(connection);
  const last = await ledger.lastEntry(DEMO.projectId);
  if ((last?.balance_after ?? 0) < parseDecimal(DEMO.lowWater, 2)) {
    await bo.funding.fund(actor, DEMO.projectId, { amount: DEMO.float, reason: 'sandbox demo float', idempotency_key: `demo-float-at-seq-${last?.seq ?? 0}` });
  }
  logger.info('demo partner ready', { project_id: DEMO.projectId, product_code: DEMO.productCode, file });
  return keys;
}

async function readKeys(file: string): Promise<DemoPartnerFile | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as DemoPartnerFile;
    return parsed.project_id === DEMO.projectId && parsed.signing_key?.private_jwk && parsed.encryption_key?.private_jwk ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function newKeys(generation: number): DemoPartnerFile {
  const jwk = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const stamp = `${Date.now().toString(36)}-${generation}`;
  return {
    project_id: DEMO.projectId,
    product_code: DEMO.productCode,
    external_user_id: DEMO.externalUserId,
    signing_key: { kid: `demo-sig-${stamp}`, alg: 'ES256', private_jwk: jwk() },
    encryption_key: { kid: `demo-enc-${stamp}`, alg: 'ECDH-ES+A256KW', private_jwk: jwk() },
  };
}

function publicOf(privateJwk: Record<string, unknown>): Record<string, unknown> {
  const { kty, crv, x, y } = privateJwk;
  return { kty, crv, x, y };
}

/**
 * The keys file for `npm run demo`, and the same keys as a folder for the partner command-line
 * client (`npm run partner -- … --keys .keys/demo-partner`). Each file is written beside, then
 * renamed over: a reader never sees half a file, and it is 0600 from the first byte.
 */
async function writeKeys(file: string, keys: DemoPartnerFile): Promise<void> {
  const folder = file.replace(/\.json$/, '');
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const jwk = (k: DemoPartnerFile['signing_key'] | DemoPartnerFile['encryption_key'], use: string) => ({ ...k.private_jwk, kid: k.kid, alg: k.alg, use });
  await writePrivate(path.join(folder, 'signing.private.jwk.json'), jwk(keys.signing_key, 'sig'));
  await writePrivate(path.join(folder, 'encryption.private.jwk.json'), jwk(keys.encryption_key, 'enc'));
  await writePrivate(file, keys);
}

async function writePrivate(file: string, content: unknown): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, file);
}

/** Only the first six and last four digits of a card number are ever shown, grouped by four. */
export function maskPan(pan: string): string {
  const digits = pan.replace(/\D/g, '');
  const masked = digits.slice(0, 6) + '*'.repeat(Math.max(0, digits.length - 10)) + digits.slice(-4);
  return masked.replace(/(.{4})(?=.)/g, '$1 ');
}
