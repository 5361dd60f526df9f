import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * A secret that development and test generate for themselves when its variable is unset:
 * written once into GATEWAY_KEYS_DIR (git-ignored, the folder 0700, the file 0600) and read back
 * by every later start and every other process using that folder, so they all share it. Written
 * beside, then linked into place: two processes starting at once agree on the first one written.
 * Production configuration requires the variable, so nothing calls this there.
 */
export async function devSecretFile(file: string, make: () => string): Promise<string> {
  const existing = await readIfPresent(file);
  if (existing !== undefined) return existing;
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temp, make(), { mode: 0o600 });
  await chmod(temp, 0o600);
  try {
    await link(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await rm(temp, { force: true });
  }
  const created = await readIfPresent(file);
  if (created === undefined) throw new Error(`could not create ${file}`);
  return created;
}

async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
