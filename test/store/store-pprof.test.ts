import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureStoreServerBinary } from '../../src/store/store-server-binary.js';

const run = promisify(execFile);

/** STORE_PPROF_ADDR (README, Benchmark): the store's profiler, on loopback only. */
describe("the embedded store's profiler", function () {
  this.timeout(300_000);
  let dir: string;
  let binary: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-pprof-'));
    binary = await ensureStoreServerBinary();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const addr of ['0.0.0.0:0', '10.1.2.3:6060', 'localhost-ish:1']) {
    it(`when STORE_PPROF_ADDR is ${addr}, then the store refuses to start and says why`, async () => {
      const err = await run(binary, ['-data', path.join(dir, 'data'), '-listen', '127.0.0.1:0'], {
        env: { ...process.env, STORE_PPROF_ADDR: addr },
        timeout: 20_000,
      }).then(
        () => undefined,
        (e: unknown) => e as { code?: number; stderr?: string },
      );
      assert.ok(err, 'the store started');
      assert.equal(err.code, 1);
      assert.match(err.stderr ?? '', /STORE_PPROF_ADDR must be a loopback address/);
    });
  }

  it('when STORE_PPROF_ADDR is a loopback address, then the store serves its CPU profile there', async () => {
    const { spawn } = await import('node:child_process');
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = spawn(binary, ['-data', path.join(dir, 'data2'), '-listen', '127.0.0.1:0'], {
      env: { ...process.env, STORE_PPROF_ADDR: `127.0.0.1:${port}` },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => c.toString().includes('READY') && resolve());
        child.once('exit', (code) => reject(new Error(`store exited with ${code}`)));
      });
      const res = await fetch(`http://127.0.0.1:${port}/debug/pprof/profile?seconds=1`);
      assert.equal(res.status, 200);
      assert.ok((await res.arrayBuffer()).byteLength > 0);
    } finally {
      child.stdin.end();
      child.kill('SIGTERM');
    }
  });
});
