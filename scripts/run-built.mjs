#!/usr/bin/env node
/**
 * Runs what is built: `npm start`, the command-line scripts and the benchmarks start through this.
 * It compiles (tsc -b, incremental) only when a source, a tsconfig or a source folder changed
 * since the last build, then runs the compiled entry point in this same process. So a command
 * after a build starts at once, and a fresh clone or an edited source is still built first.
 *
 *   node scripts/run-built.mjs dist/scripts/admin.js [arguments...]
 *   node scripts/run-built.mjs --build        build if anything changed, run nothing
 *
 * Plain JavaScript on purpose: it has to run before anything is compiled.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
/** Written after each successful build, dated when that build started. */
const STAMP = path.join(root, 'dist', '.build-stamp');

/** The tsconfig files of the build: the root one and the projects it references. */
function tsconfigs() {
  const found = [];
  const visit = (file) => {
    if (found.includes(file)) return;
    found.push(file);
    let config;
    try {
      config = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      return; // unreadable: its own mtime still counts, and tsc will say what is wrong
    }
    for (const ref of config.references ?? []) {
      const target = path.resolve(path.dirname(file), ref.path);
      visit(target.endsWith('.json') ? target : path.join(target, 'tsconfig.json'));
    }
  };
  visit(path.join(root, 'tsconfig.json'));
  return found;
}

/** The newest modification time among the build's inputs (sources, folders, tsconfigs), in ms. */
function newestInput() {
  let newest = 0;
  const consider = (file) => {
    try {
      newest = Math.max(newest, statSync(file).mtimeMs);
    } catch {
      // gone meanwhile
    }
  };
  for (const file of tsconfigs()) {
    consider(file);
    let include = [];
    try {
      include = JSON.parse(readFileSync(file, 'utf8')).include ?? [];
    } catch {
      // counted above
    }
    for (const entry of include) {
      const dir = path.resolve(path.dirname(file), entry);
      if (!existsSync(dir)) continue;
      // A folder's own time changes when a file is added, removed or renamed in it.
      consider(dir);
      for (const item of readdirSync(dir, { recursive: true, withFileTypes: true })) {
        const full = path.join(item.parentPath ?? item.path, item.name);
        if (item.isDirectory() || /\.(c|m)?ts$/.test(item.name)) consider(full);
      }
    }
  }
  return newest;
}

function builtAt() {
  try {
    return statSync(STAMP).mtimeMs;
  } catch {
    return undefined;
  }
}

function build() {
  const startedAt = new Date();
  let tsc;
  try {
    tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    process.stderr.write('cannot build: TypeScript is not installed here (run npm ci)\n');
    process.exit(1);
  }
  process.stderr.write('building (sources changed since the last build, or no build yet)...\n');
  const result = spawnSync(process.execPath, [tsc, '-b'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  writeFileSync(STAMP, `${startedAt.toISOString()}\n`);
  // Dated at the start: a source saved while tsc ran is newer, so the next run builds again.
  utimesSync(STAMP, startedAt, startedAt);
}

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write('usage: node scripts/run-built.mjs <compiled entry point> [arguments...] | --build\n');
  process.exit(2);
}
const stamp = builtAt();
if (stamp === undefined || newestInput() > stamp) build();
if (entry !== '--build') {
  const file = path.resolve(root, entry);
  // The entry sees the command line as if node had been started on it (parseArgs, node:cluster).
  process.argv = [process.argv[0], file, ...args];
  await import(pathToFileURL(file).href);
}
