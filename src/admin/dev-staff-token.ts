import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';

/** The staff name the development token signs in as (audit entries say `dev`). */
export const DEV_STAFF = 'dev';
export const DEV_STAFF_TOKEN_FILE = 'dev-staff-token';

export function devStaffTokenFile(config: Pick<Config, 'keysDir'>): string {
  return path.join(config.keysDir, DEV_STAFF_TOKEN_FILE);
}

/** Only a development gateway without ADMIN_TOKENS makes one; test and production never do. */
export function devStaffTokenApplies(config: Pick<Config, 'NODE_ENV' | 'ADMIN_ENABLED' | 'ADMIN_TOKENS'>): boolean {
  return config.NODE_ENV === 'development' && config.ADMIN_ENABLED && (!config.ADMIN_TOKENS || config.ADMIN_TOKENS.size === 0);
}

/**
 * In development ADMIN_TOKENS is usually empty, which would refuse every admin call and console
 * sign-in. So the development gateway makes a staff token once, keeps it in a git-ignored file
 * (mode 0600) beside the demo partner's keys, and reuses it on every start. The token itself never
 * reaches the log: only the file's path does.
 */
export async function withDevStaffToken(config: Config, logger: Logger): Promise<Config> {
  if (!devStaffTokenApplies(config)) return config;
  const file = devStaffTokenFile(config);
  let token = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (!/^[\x21-\x7e]{32,512}$/.test(token)) {
    token = `dev_${randomBytes(32).toString('base64url')}`;
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, `${token}\n`, { mode: 0o600 });
    await rename(tmp, file);
    await chmod(file, 0o600);
  }
  logger.info('development staff token (admin API and console, staff "dev")', { file });
  return { ...config, ADMIN_TOKENS: new Map([[DEV_STAFF, token]]) };
}
