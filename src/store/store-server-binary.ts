import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from './project-root.js';

const run = promisify(execFile);

/** Thrown when the embedded store is needed and cannot be had; the message says what to do. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

const SOURCES = ['main.go', 'go.mod', 'go.sum'];

/**
 * Returns the path of the embedded FerretDB server, building it with `go build` when it is missing
 * or its sources changed (a hash of them is kept beside the binary). The first build compiles
 * SQLite in pure Go and takes a few minutes; later starts are instant.
 */
export async function ensureStoreServerBinary(
  options: { log?: (msg: string) => void; outDir?: string } = {},
): Promise<string> {
  const { log = () => {} } = options;
  const root = projectRoot();
  const sourceDir = path.join(root, 'store-server');
  const outDir = options.outDir ?? path.join(root, '.cache', 'store-server');
  const binary = path.join(outDir, 'store-server');
  const stampFile = path.join(outDir, 'sources.sha256');

  const hash = createHash('sha256');
  for (const f of SOURCES) hash.update(await readFile(path.join(sourceDir, f)));
  const stamp = hash.digest('hex');

  if (existsSync(binary) && existsSync(stampFile) && (await readFile(stampFile, 'utf8')) === stamp) return binary;

  try {
    await run('go', ['version']);
  } catch {
    throw new StoreUnavailableError(
      'MONGODB_URI is not set and Go is not installed: install Go 1.24+ for the embedded store, or set MONGODB_URI.',
    );
  }
  log('building the embedded store server (first run only; this takes a few minutes)');
  await mkdir(outDir, { recursive: true });
  try {
    await run('go', ['build', '-o', binary, '.'], { cwd: sourceDir, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new StoreUnavailableError(`go build of the embedded store failed:\n${stderr.slice(-4000)}`);
  }
  await writeFile(stampFile, stamp);
  return binary;
}
