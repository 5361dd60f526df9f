import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import { DEV_STAFF_TOKEN_FILE } from '../../src/admin/dev-staff-token.js';
import { spawnGateway } from '../support/gateway-process.js';
import { dropIsolatedDb, isolatedDb, uriOf } from '../support/isolated-db.js';

/** The development gateway makes a staff token, says where it is, and the admin API and console accept it. */
describe('development staff token', function () {
  this.timeout(120_000);
  let connection: Connection;
  let keysDir: string;

  before(async () => {
    connection = await isolatedDb('devtoken');
    keysDir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-devtoken-'));
  });
  after(async () => {
    await dropIsolatedDb(connection);
    await rm(keysDir, { recursive: true, force: true });
  });

  const start = () => spawnGateway({ NODE_ENV: 'development', MONGODB_URI: uriOf(connection), GATEWAY_KEYS_DIR: keysDir, WORKER_ENABLED: 'false' });

  it('when a development gateway starts without ADMIN_TOKENS, then it writes a 0600 token file, logs its path (never the token), and the admin API accepts it; a restart keeps it', async () => {
    const first = await start();
    let token: string;
    try {
      const file = path.join(keysDir, DEV_STAFF_TOKEN_FILE);
      token = (await readFile(file, 'utf8')).trim();
      assert.ok(token.length >= 32);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.ok(first.output.some((l) => l.includes('development staff token') && l.includes(file)), 'the log names the file');
      assert.ok(!first.output.some((l) => l.includes(token)), 'the token is never logged');
      const ok = await fetch(`${first.url}/admin/v1/slugs`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(ok.status, 200);
      assert.equal((await fetch(`${first.url}/admin/v1/slugs`)).status, 401);
    } finally {
      first.child.kill('SIGTERM');
      await first.exited;
    }
    const second = await start();
    try {
      assert.equal((await readFile(path.join(keysDir, DEV_STAFF_TOKEN_FILE), 'utf8')).trim(), token, 'the same token after a restart');
      assert.equal((await fetch(`${second.url}/admin/v1/slugs`, { headers: { Authorization: `Bearer ${token}` } })).status, 200);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });

  it('when the gateway runs in test mode without ADMIN_TOKENS, then no token file is made', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-devtoken-test-'));
    const gw = await spawnGateway({ MONGODB_URI: uriOf(connection), GATEWAY_KEYS_DIR: dir, WORKER_ENABLED: 'false' });
    try {
      await assert.rejects(stat(path.join(dir, DEV_STAFF_TOKEN_FILE)));
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
      await rm(dir, { recursive: true, force: true });
    }
  });
});
