import assert from 'node:assert/strict';
import type { Connection } from 'mongoose';
import type { Express } from 'express';
import request from 'supertest';
import { createGateway } from '../../src/app.js';
import { dropIsolatedDb, isolatedDb } from '../support/isolated-db.js';
import { testLogger } from '../support/log-capture.js';
import { testConfig } from '../support/test-config.js';

const TOKEN = 'mounts-staff-token-0123456789abcdef012345';

interface RouteLayer {
  rawPath?: string;
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: RouteLayer[] };
}

/** Every `METHOD /path` an app mounts, nested routers included, parameters as {name}. */
function mountedRoutes(app: Express): string[] {
  const found: string[] = [];
  const walk = (stack: RouteLayer[], prefix: string): void => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) found.push(`${method} ${(prefix + layer.route.path).replace(/:(\w+)/g, '{$1}')}`);
      } else if (layer.handle.stack) {
        walk(layer.handle.stack, prefix + (layer.rawPath && layer.rawPath !== '/' ? layer.rawPath : ''));
      }
    }
  };
  walk((app as unknown as { router: { stack: RouteLayer[] } }).router.stack, '');
  return found;
}

/** Mounted API routes the document leaves out on purpose: the sandbox's own (docs/orders.md, "Sandbox"). */
const UNDOCUMENTED = /^post \/api\/v1\/sandbox\//;

describe('staff pages follow the admin API: console, /metrics and the full OpenAPI on the admin listener', function () {
  this.timeout(30_000);
  let connection: Connection;

  before(async () => {
    connection = await isolatedDb('mounts');
  });
  after(async () => {
    await dropIsolatedDb(connection);
  });

  it('when the admin API has its own port, then console, /metrics and the admin part of the OpenAPI are only there, and the partner port documents only the partner API', async () => {
    const gateway = await createGateway({ config: testConfig({ ADMIN_TOKENS: `ops:${TOKEN}`, ADMIN_PORT: '0' }), logger: testLogger, connection });
    assert.ok(gateway.adminApp);
    const partnerDoc = (await request(gateway.app).get('/openapi.json').expect(200)).body as { paths: Record<string, unknown> };
    const paths = Object.keys(partnerDoc.paths);
    assert.ok(paths.includes('/api/v1/cards/create'));
    assert.deepEqual(paths.filter((p) => p.startsWith('/admin/')), []);
    await request(gateway.app).get('/console/login').expect(404);
    await request(gateway.app).get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(404);

    const adminDoc = (await request(gateway.adminApp).get('/openapi.json').expect(200)).body as { paths: Record<string, unknown> };
    assert.ok(Object.keys(adminDoc.paths).includes('/admin/v1/orders'));
    assert.ok(Object.keys(adminDoc.paths).includes('/api/v1/cards/create'));
    await request(gateway.adminApp).get('/console/login').expect(200);
    await request(gateway.adminApp).get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(200);
    await gateway.stop();
  });

  it('when a route is mounted under /api/v1 or /admin/v1, then the OpenAPI document describes it', async () => {
    const gateway = await createGateway({ config: testConfig({ ADMIN_TOKENS: `ops:${TOKEN}` }), logger: testLogger, connection });
    const doc = (await request(gateway.app).get('/openapi.json').expect(200)).body as { paths: Record<string, Record<string, unknown>> };
    const mounted = mountedRoutes(gateway.app).filter((r) => /^\w+ \/(api|admin)\/v1\//.test(r) && !UNDOCUMENTED.test(r));
    assert.ok(mounted.includes('post /api/v1/cards/topup') && mounted.includes('post /admin/v1/orders/{order_id}/refund'), mounted.join('\n'));
    const missing = mounted.filter((r) => {
      const [method, path] = r.split(' ') as [string, string];
      return !doc.paths[path]?.[method];
    });
    assert.deepEqual(missing, []);
    await gateway.stop();
  });

  it('when the admin API is disabled, then there is no console and no /metrics anywhere', async () => {
    const gateway = await createGateway({ config: testConfig({ ADMIN_TOKENS: `ops:${TOKEN}`, ADMIN_ENABLED: 'false' }), logger: testLogger, connection });
    await request(gateway.app).get('/console/login').expect(404);
    await request(gateway.app).get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(404);
    await gateway.stop();
  });
});
