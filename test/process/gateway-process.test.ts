import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { StoreUnavailableError, ensureStoreServerBinary } from '../../src/store/store-server-binary.js';
import { isProcessAlive, spawnGateway, waitUntil } from '../support/gateway-process.js';
import { projectRoot } from '../../src/store/project-root.js';

async function storePid(dataDir: string): Promise<number> {
  const address = JSON.parse(await readFile(path.join(dataDir, 'store-address.json'), 'utf8')) as { pid: number };
  return address.pid;
}

describe('the gateway process on the embedded store', function () {
  this.timeout(90_000);
  let dataDir: string;

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-proc-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('when started with no MONGODB_URI, then /readyz is 200; when sent SIGTERM, then it exits 0 and leaves no store process', async () => {
    const gw = await spawnGateway({ EMBEDDED_STORE_DIR: dataDir, GATEWAY_KEYS_DIR: path.join(dataDir, 'keys') });
    const pid = await storePid(dataDir);
    assert.ok(isProcessAlive(pid));

    const ready = await fetch(`${gw.url}/readyz`);
    assert.equal(ready.status, 200);

    gw.child.kill('SIGTERM');
    const { code } = await gw.exited;
    assert.equal(code, 0, gw.output.join('\n'));
    await waitUntil(() => !isProcessAlive(pid), 5000, 'the store server to exit');
  });

  it('when the gateway is killed with SIGKILL, then its store server notices and exits too', async () => {
    const gw = await spawnGateway({ EMBEDDED_STORE_DIR: dataDir, GATEWAY_KEYS_DIR: path.join(dataDir, 'keys') });
    const pid = await storePid(dataDir);
    gw.child.kill('SIGKILL');
    await gw.exited;
    await waitUntil(() => !isProcessAlive(pid), 10_000, 'the orphaned store server to exit');
  });

  it('when a second gateway is pointed at a data folder in use, then it refuses instead of sharing the files', async () => {
    const first = await spawnGateway({ EMBEDDED_STORE_DIR: dataDir, GATEWAY_KEYS_DIR: path.join(dataDir, 'keys') });
    try {
      await assert.rejects(
        spawnGateway({ EMBEDDED_STORE_DIR: dataDir, GATEWAY_KEYS_DIR: path.join(dataDir, 'keys') }),
        /already used by another store server/,
      );
      assert.equal((await fetch(`${first.url}/readyz`)).status, 200, 'the first gateway is unharmed');
    } finally {
      first.child.kill('SIGTERM');
      await first.exited;
    }
  });

  it('when the configuration is bad, then the process exits 1 before listening and names each problem', async () => {
    const child = spawn(process.execPath, [path.join(projectRoot(), 'dist', 'src', 'main.js')], {
      env: { PATH: process.env.PATH ?? '', PORT: 'x', LOG_LEVEL: 'loud' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 1);
    assert.match(stderr, /PORT:/);
    assert.match(stderr, /LOG_LEVEL:/);
  });

  it('when the store server must be built and Go is missing, then the error says to install Go or set MONGODB_URI', async () => {
    const savedPath = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await assert.rejects(
        ensureStoreServerBinary({ outDir: path.join(dataDir, 'bin') }),
        (err: unknown) =>
          err instanceof StoreUnavailableError && /MONGODB_URI is not set and Go is not installed/.test(err.message),
      );
    } finally {
      process.env.PATH = savedPath;
    }
  });
});
