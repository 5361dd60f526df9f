import assert from 'node:assert/strict';
import type { Connection } from 'mongoose';
import request from 'supertest';
import { createGateway } from '../../src/app.js';
import { dropIsolatedDb, isolatedDb } from '../support/isolated-db.js';
import { testLogger } from '../support/log-capture.js';
import { testConfig } from '../support/test-config.js';

const TOKEN = 'mounts-staff-token-0123456789abcdef012345';

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

  it('when the admin API is disabled, then there is no console and no /metrics anywhere', async () => {
    const gateway = await createGateway({ config: testConfig({ ADMIN_TOKENS: `ops:${TOKEN}`, ADMIN_ENABLED: 'false' }), logger: testLogger, connection });
    await request(gateway.app).get('/console/login').expect(404);
    await request(gateway.app).get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(404);
    await gateway.stop();
  });
});
