import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawnGateway } from '../support/gateway-process.js';
import { testStore } from '../support/test-store.js';
import { uriOf } from '../support/isolated-db.js';

const TOKEN = 'ops-token-0123456789abcdef0123456789abcdef';

describe('admin API on its own port (real gateway process)', function () {
  this.timeout(90_000);

  it('when ADMIN_PORT is set, then the process serves the admin API there, not on the main port, and shuts both down on SIGTERM', async () => {
    const keys = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-admin-keys-'));
    const gw = await spawnGateway({ MONGODB_URI: uriOf(testStore().connection), ADMIN_PORT: '0', ADMIN_TOKENS: `ops:${TOKEN}`, GATEWAY_KEYS_DIR: keys });
    try {
      const line = gw.output.find((l) => l.includes('"admin api listening"'));
      assert.ok(line, gw.output.join('\n'));
      const adminUrl = (JSON.parse(line) as { url: string }).url;
      assert.notEqual(adminUrl, gw.url);

      const auth = { Authorization: `Bearer ${TOKEN}` };
      assert.equal((await fetch(`${adminUrl}/admin/v1/products`, { headers: auth })).status, 200);
      assert.equal((await fetch(`${adminUrl}/admin/v1/products`)).status, 401);
      assert.equal((await fetch(`${gw.url}/admin/v1/products`, { headers: auth })).status, 404);
    } finally {
      gw.child.kill('SIGTERM');
      const { code } = await gw.exited;
      assert.equal(code, 0);
      await rm(keys, { recursive: true, force: true });
    }
  });
});
