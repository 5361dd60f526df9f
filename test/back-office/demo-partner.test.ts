import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import { auditLogModel } from '../../src/back-office/audit-log.js';
import { DEMO, demoBootstrapApplies, demoPartnerFile, ensureDemoPartner, maskPan, type DemoPartnerFile } from '../../src/back-office/demo-partner.js';
import { cardholderModel } from '../../src/cardholders/cardholder-model.js';
import { LedgerService } from '../../src/ledger/ledger-service.js';
import { productModel } from '../../src/products/product-model.js';
import { projectModel } from '../../src/projects/project-model.js';
import { registerBackOfficeModels } from '../../src/back-office/back-office.js';
import { testConfig } from '../support/test-config.js';
import { testLogger } from '../support/log-capture.js';
import { dropIsolatedDb, isolatedDb } from '../support/isolated-db.js';

describe('sandbox demo partner bootstrap', function () {
  this.timeout(60_000);
  let connection: Connection;
  let keysDir: string;

  beforeEach(async () => {
    connection = await isolatedDb('demo');
    registerBackOfficeModels(connection);
    await Promise.all(Object.values(connection.models).map((m) => m.createIndexes()));
    keysDir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-demo-keys-'));
  });
  afterEach(async () => {
    await dropIsolatedDb(connection);
    await rm(keysDir, { recursive: true, force: true });
  });

  const bootstrap = () => ensureDemoPartner({ connection, config: testConfig({ GATEWAY_KEYS_DIR: keysDir }), logger: testLogger });

  it('when the gateway starts on the embedded development store, then the demo partner is complete and its private keys are in a 0600 file', async () => {
    await bootstrap();
    const file = demoPartnerFile({ keysDir });
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const keys = JSON.parse(await readFile(file, 'utf8')) as DemoPartnerFile;
    assert.ok(keys.signing_key.private_jwk.d, 'the partner side holds its private key');
    const folder = path.join(keysDir, 'demo-partner');
    const cliKey = JSON.parse(await readFile(path.join(folder, 'signing.private.jwk.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual([cliKey.kid, cliKey.alg, cliKey.d], [keys.signing_key.kid, 'ES256', keys.signing_key.private_jwk.d], 'the same keys for npm run partner');
    assert.equal((await stat(path.join(folder, 'encryption.private.jwk.json'))).mode & 0o777, 0o600);

    const project = await projectModel(connection).findById(DEMO.projectId).lean();
    assert.equal(project!.status, 'active');
    assert.deepEqual(project!.signing_keys.map((k) => [k.kid, k.status]), [[keys.signing_key.kid, 'active']]);
    assert.deepEqual(project!.encryption_keys.map((k) => [k.kid, k.status]), [[keys.encryption_key.kid, 'active']]);
    assert.ok(!JSON.stringify(project).includes(keys.signing_key.private_jwk.d as string), 'no private key in the store');
    assert.equal((await productModel(connection).findOne({ product_code: DEMO.productCode }).lean())!.active, true);
    assert.equal((await cardholderModel(connection).findOne({ project_id: DEMO.projectId, external_user_id: DEMO.externalUserId }).lean())!.verification_status, 'verified');
    assert.equal(await new LedgerService(connection).balance(DEMO.projectId), 1_000_000);
  });

  it('when it runs again, then nothing changes; when the key file is lost, then new keys replace (and retire) the old ones', async () => {
    const first = await bootstrap();
    const audited = await auditLogModel(connection).countDocuments();
    const again = await bootstrap();
    assert.deepEqual(again, first);
    assert.equal(await auditLogModel(connection).countDocuments(), audited, 'a restart writes nothing');

    await unlink(demoPartnerFile({ keysDir }));
    const fresh = await bootstrap();
    assert.notEqual(fresh.signing_key.kid, first.signing_key.kid);
    const project = await projectModel(connection).findById(DEMO.projectId).lean();
    assert.deepEqual(project!.signing_keys.map((k) => k.status), ['retired', 'active']);
    assert.deepEqual(project!.encryption_keys.map((k) => k.status), ['retired', 'active']);
    assert.equal(await new LedgerService(connection).balance(DEMO.projectId), 1_000_000, 'funded once');
  });

  it('when only production or a configured database is in play, then no demo partner is made', () => {
    assert.equal(demoBootstrapApplies({ NODE_ENV: 'development', MONGODB_URI: undefined }), true);
    assert.equal(demoBootstrapApplies({ NODE_ENV: 'production', MONGODB_URI: undefined }), false);
    assert.equal(demoBootstrapApplies({ NODE_ENV: 'test', MONGODB_URI: undefined }), false);
    assert.equal(demoBootstrapApplies({ NODE_ENV: 'development', MONGODB_URI: 'mongodb://db/x' }), false);
  });

  it('when a card number is shown, then only its first six and last four digits are', () => {
    assert.equal(maskPan('4111111111111111'), '4111 11** **** 1111');
    assert.equal(maskPan('5555 5555 5555 4444'), '5555 55** **** 4444');
  });
});
