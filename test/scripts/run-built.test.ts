import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/store/project-root.js';

const run = promisify(execFile);
const LAUNCHER = path.join(projectRoot(), 'scripts', 'run-built.mjs');

/**
 * `npm start` and the command-line scripts run through scripts/run-built.mjs: it compiles only when
 * a build input changed, then runs the compiled entry point. Checked on this repository (built by
 * `npm test` just before) and on a small project whose "compiler" records each time it is called.
 */
describe('scripts run what is built (scripts/run-built.mjs)', function () {
  this.timeout(60_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-run-built-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('when nothing changed since the build, then a command runs its compiled entry point without compiling', async () => {
    const stamp = path.join(projectRoot(), 'dist', '.build-stamp');
    const before = (await stat(stamp)).mtimeMs;
    const started = process.hrtime.bigint();
    const { stdout, stderr } = await run(process.execPath, [LAUNCHER, 'packages/client/dist/cli/partner-cli.js', '--help'], { cwd: projectRoot() });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.match(stdout, /^Usage: card-gateway-partner/);
    assert.equal(stderr, '', 'no build ran');
    assert.equal((await stat(stamp)).mtimeMs, before);
    process.stdout.write(`      partner --help through the launcher: ${ms.toFixed(0)} ms (npm run bench:cli measures every tool)\n`);
  });

  /** A project with one source, a tsconfig, and a "tsc" that logs its calls and writes the entry point. */
  async function fakeProject(): Promise<{ root: string; builds: () => Promise<number>; launch: (...args: string[]) => Promise<{ stdout: string; stderr: string }> }> {
    const root = await mkdtemp(path.join(dir, 'project-'));
    await mkdir(path.join(root, 'scripts'));
    await copyFile(LAUNCHER, path.join(root, 'scripts', 'run-built.mjs'));
    await writeFile(path.join(root, 'package.json'), JSON.stringify({ name: 'fake', type: 'module' }));
    await writeFile(path.join(root, 'tsconfig.json'), JSON.stringify({ include: ['src'], references: [{ path: './lib' }] }));
    await mkdir(path.join(root, 'lib', 'src'), { recursive: true });
    await writeFile(path.join(root, 'lib', 'tsconfig.json'), JSON.stringify({ include: ['src'] }));
    await writeFile(path.join(root, 'lib', 'src', 'lib.ts'), 'export const lib = 1;\n');
    await mkdir(path.join(root, 'src', 'deep'), { recursive: true });
    await writeFile(path.join(root, 'src', 'deep', 'main.ts'), 'export {};\n');
    const bin = path.join(root, 'node_modules', 'typescript', 'bin');
    await mkdir(bin, { recursive: true });
    await writeFile(path.join(root, 'node_modules', 'typescript', 'package.json'), JSON.stringify({ name: 'typescript', version: '0.0.0' }));
    await writeFile(
      path.join(bin, 'tsc'),
      [
        "const fs = require('node:fs');",
        "fs.appendFileSync('builds.log', process.argv.slice(2).join(' ') + '\\n');",
        "fs.mkdirSync('dist', { recursive: true });",
        "fs.writeFileSync('dist/main.js', 'process.stdout.write(JSON.stringify(process.argv.slice(2)));');",
      ].join('\n'),
    );
    const builds = async () => (await readFile(path.join(root, 'builds.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
    const launch = (...args: string[]) => run(process.execPath, [path.join(root, 'scripts', 'run-built.mjs'), ...args], { cwd: root });
    return { root, builds, launch };
  }

  /** Dated after the stamp the loop below puts a minute back, and before the next build starts. */
  const later = async (file: string) => {
    const t = new Date(Date.now() - 30_000);
    await utimes(file, t, t);
  };

  it('when there is no build yet, or a source, a referenced project, a tsconfig or a folder changed, then it builds once (tsc -b) and runs; otherwise it only runs', async () => {
    const { root, builds, launch } = await fakeProject();
    const first = await launch('dist/main.js', '--flag', 'value');
    assert.equal(first.stdout, JSON.stringify(['--flag', 'value']), 'the entry point sees its own arguments');
    assert.match(first.stderr, /building/);
    assert.equal(await builds(), 1);
    assert.equal((await readFile(path.join(root, 'builds.log'), 'utf8')).trim(), '-b');

    assert.equal((await launch('dist/main.js')).stderr, '');
    assert.equal(await builds(), 1, 'nothing changed: no build');

    const changes: [string, () => Promise<void>][] = [
      ['a source deep in src', () => later(path.join(root, 'src', 'deep', 'main.ts'))],
      ["a referenced project's source", () => later(path.join(root, 'lib', 'src', 'lib.ts'))],
      ['a tsconfig', () => later(path.join(root, 'lib', 'tsconfig.json'))],
      ['a new file', () => writeFile(path.join(root, 'src', 'added.ts'), 'export {};\n')],
      ['a removed file (its folder changed)', () => rm(path.join(root, 'src', 'added.ts'))],
    ];
    let expected = 1;
    for (const [what, change] of changes) {
      // Each change dated after the last build's stamp.
      await utimes(path.join(root, 'dist', '.build-stamp'), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
      await change();
      await launch('--build');
      assert.equal(await builds(), ++expected, what);
      await launch('dist/main.js');
      assert.equal(await builds(), expected, `${what}: built once, not again`);
    }
  });
});
