import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from './project-root.js';

const run = promisify(execFile);

/** Thrown when the embedded store is needed and cannot be had; the message says what to do. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

/**
 * Our patches to FerretDB (store-server/patches/README.md): each is a file of the module, built from
 * a patched copy of it (`replace` in a generated go.mod). `upstreamSha256` is the hash of the
 * upstream v1.24.2 file the patch was made from, so a FerretDB upgrade stops the build instead of
 * silently mixing versions; null marks a file the patch set adds, which upstream must not have.
 */
const FERRETDB = 'github.com/FerretDB/FerretDB';
const MODERNC_SQLITE = 'modernc.org/sqlite';

const PATCHES: readonly { module: string; file: string; target: string; upstreamSha256: string | null }[] = [
  {
    module: FERRETDB,
    file: 'patches/sqlite-collection.go',
    target: 'internal/backends/sqlite/collection.go',
    upstreamSha256: '7b65c249d047b4ec47d1e6833e945ac7d2613ab2ca3032c64ee526311bd04177',
  },
  { module: FERRETDB, file: 'patches/sqlite-typed-query.go', target: 'internal/backends/sqlite/typed_query.go', upstreamSha256: null },
  {
    module: FERRETDB,
    file: 'patches/metadata-registry.go',
    target: 'internal/backends/sqlite/metadata/registry.go',
    upstreamSha256: '0b10fe91beee0d8aae5b0a8410dc46af555cb788c60ce44e1588fb3b066360a7',
  },
  { module: FERRETDB, file: 'patches/metadata-typed-index.go', target: 'internal/backends/sqlite/metadata/typed_index.go', upstreamSha256: null },
  {
    module: FERRETDB,
    file: 'patches/backends-collection.go',
    target: 'internal/backends/collection.go',
    upstreamSha256: 'b95797a6a71412209c8627528fac8e69dd713232d23e20adeea0b2b03c973d74',
  },
  {
    module: FERRETDB,
    file: 'patches/handler-msg_find.go',
    target: 'internal/handler/msg_find.go',
    upstreamSha256: '81e1f70c60839b59892b34166862c15c81267722052907a0b798e3f7873da99c',
  },
  {
    module: FERRETDB,
    file: 'patches/handler-msg_count.go',
    target: 'internal/handler/msg_count.go',
    upstreamSha256: '86e9e9650c417db6187009a35f7cdd6fb8faa3d213af615e8e1e198528147864',
  },
  {
    module: FERRETDB,
    file: 'patches/handler-msg_explain.go',
    target: 'internal/handler/msg_explain.go',
    upstreamSha256: '697e337499134ac3de73e25db741c350de16b034f7a86bc2bad633647337b227',
  },
  {
    module: FERRETDB,
    file: 'patches/handler-sjson.go',
    target: 'internal/handler/sjson/sjson.go',
    upstreamSha256: '31aa827ca5dcf21073a8f1c9f75bae93716d91be4fc3308fd55acebb8ebc4bfd',
  },
  { module: FERRETDB, file: 'patches/handler-sjson-split_test.go', target: 'internal/handler/sjson/split_test.go', upstreamSha256: null },
  {
    module: FERRETDB,
    file: 'patches/sqlite-database.go',
    target: 'internal/backends/sqlite/database.go',
    upstreamSha256: 'd1e6ae396cc40dc36a8d41814f995b12cc83a0e89b72a34f3193206f2d111651',
  },
  {
    module: FERRETDB,
    file: 'patches/util-resource.go',
    target: 'internal/util/resource/resource.go',
    upstreamSha256: '0d9f95cef87362b4670eaac8884601170987118ef4cdd3acefc52ef454e30364',
  },
  {
    // The SQLite driver FerretDB uses: statements compiled once per connection.
    module: MODERNC_SQLITE,
    file: 'patches/modernc-sqlite.go',
    target: 'sqlite.go',
    upstreamSha256: 'a00a18e5ff7d8f6c6e0ba80b1a7a0f25e1a19d5d74b525848b27db5f16af0bf2',
  },
];
const SOURCES = ['main.go', 'go.mod', 'go.sum', ...PATCHES.map((p) => p.file)];

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
  const outDir = options.outDir ?? defaultOutDir();
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
    const modFile = await preparePatchedModule(sourceDir, outDir);
    await run('go', ['build', '-modfile', modFile, '-o', binary, '.'], { cwd: sourceDir, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw err;
    // Go's own output says what failed; when a step failed before Go ran, its message does.
    const stderr = (err as { stderr?: string }).stderr || (err instanceof Error ? err.message : String(err));
    throw new StoreUnavailableError(`go build of the embedded store failed:\n${stderr.slice(-4000)}`);
  }
  await writeFile(stampFile, stamp);
  return binary;
}

/** Where the build keeps its patched copy of a Go module (FerretDB unless named). */
export function patchedModuleDir(module: string = FERRETDB, outDir = defaultOutDir()): string {
  return path.join(outDir, `${module.replace(/[^A-Za-z0-9]+/g, '-')}-patched`);
}

/** The build's folder unless a caller names another: the binary, its stamp, the patched modules. */
function defaultOutDir(): string {
  return path.join(projectRoot(), '.cache', 'store-server');
}

/**
 * Builds a patched copy of each patched module (FerretDB, its SQLite driver) under `outDir` and a go.mod that points at them
 * (`replace`); returns that go.mod for `go build -modfile`. The project's own go.mod stays as is.
 */
async function preparePatchedModule(sourceDir: string, outDir: string): Promise<string> {
  const replaces: string[] = [];
  for (const module of [...new Set(PATCHES.map((p) => p.module))]) {
    const patches = PATCHES.filter((p) => p.module === module);
    // `go mod download` fetches and unpacks the module (at the version go.mod and go.sum pin) when
    // the cache does not have it yet (on a fresh machine `go list -m` would answer with an empty Dir).
    const { stdout } = await run('go', ['mod', 'download', '-json', module], { cwd: sourceDir });
    const upstreamDir = (JSON.parse(stdout) as { Dir?: string }).Dir ?? '';
    if (!upstreamDir) throw new StoreUnavailableError(`go mod download did not unpack ${module}.`);
    for (const patch of patches) {
      const target = path.join(upstreamDir, patch.target);
      const upstreamHash = existsSync(target) ? createHash('sha256').update(await readFile(target)).digest('hex') : null;
      if (upstreamHash !== patch.upstreamSha256) {
        throw new StoreUnavailableError(`${target} is not the file store-server/${patch.file} was made from: re-apply the patch to the new ${module} version.`);
      }
    }
    const patchedDir = patchedModuleDir(module, outDir);
    await rm(patchedDir, { recursive: true, force: true });
    await cp(upstreamDir, patchedDir, { recursive: true });
    // The module cache is read-only; the copy must not be, or the next build cannot replace it.
    await run('chmod', ['-R', 'u+w', patchedDir]);
    for (const patch of patches) await copyFile(path.join(sourceDir, patch.file), path.join(patchedDir, patch.target));
    replaces.push(`replace ${module} => ${patchedDir}`);
  }

  const goMod = await readFile(path.join(sourceDir, 'go.mod'), 'utf8');
  const modFile = path.join(outDir, 'go.mod');
  await writeFile(modFile, `${goMod}\n${replaces.join('\n')}\n`);
  await copyFile(path.join(sourceDir, 'go.sum'), path.join(outDir, 'go.sum'));
  return modFile;
}
