import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { newId } from '../../src/ids/ids.js';
import { orderModel } from '../../src/orders/order-model.js';
import type { ProjectKey } from '../../src/projects/project-model.js';
import { ProjectRepository } from '../../src/projects/project-repository.js';
import { projectRoot } from '../../src/store/project-root.js';
import { registerSecret } from '../support/log-audit.js';
import { deposit, makeProduct, uniq } from '../support/orders-fixtures.js';
import { startTestGateway, type TestGateway } from '../support/partner.js';
import { testStore } from '../support/test-store.js';

const run = promisify(execFile);
const EXAMPLES = path.join(projectRoot(), 'docs', 'examples');
const installedVersion = async (name: string) => (JSON.parse(await readFile(path.join(projectRoot(), 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

/**
 * The client as a partner gets it: packed from packages/client, installed from the tarball into an
 * empty project outside this repository (so it cannot lean on this repository's node_modules), keys
 * made with its own keygen, and a card issued through a running gateway by the README's quickstart,
 * compiled from TypeScript and in plain JavaScript. npm reaches the registry for jose (and, for the
 * TypeScript part, typescript and @types/node); the npm cache makes that quick.
 */
describe('the client package, packed and installed in an empty project', function () {
  this.timeout(600_000);
  const conn = () => testStore().connection;
  let tg: TestGateway;
  let dir: string;
  let app: string;
  let env: Record<string, string>;

  before(async () => {
    tg = await startTestGateway({ config: { WORKER_ENABLED: 'true', WORKER_POLL_MS: '20' } });
    await tg.gateway.start();
    dir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-pack-'));
    app = path.join(dir, 'partner-app');
    await mkdir(app);
    await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'partner-app', private: true, type: 'module' }, null, 2));
    env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      XDG_CONFIG_HOME: path.join(dir, 'config'),
      GATEWAY_REPO: projectRoot(),
      PARTNER_GATEWAY_URL: tg.url,
      npm_config_prefer_offline: 'true',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
      npm_config_loglevel: 'error',
    };
  });
  after(async () => {
    await tg.close();
    await rm(dir, { recursive: true, force: true });
  });

  const sh = (file: string, extra: Record<string, string> = {}) => run('sh', [file], { cwd: app, env: { ...env, ...extra } });
  const node = (args: string[], extra: Record<string, string> = {}) => run(process.execPath, args, { cwd: app, env: { ...env, ...extra } });

  let projectId: string;
  let productCode: string;

  it('when the README install script runs in an empty project, then the tarball carries only the built package, installs with jose alone, and keygen writes outside the project', async () => {
    for (let at = app; path.dirname(at) !== at; at = path.dirname(at)) {
      assert.ok(!existsSync(path.join(path.dirname(at), 'node_modules')), `${path.dirname(at)} has a node_modules the project could lean on`);
    }
    const { stdout } = await sh(path.join(EXAMPLES, 'install-client.sh'));
    assert.match(stdout, /written to .*card-gateway\/partner-keys/);

    const { stdout: listing } = await run('tar', ['-tzf', path.join(app, 'card-gateway-client-0.1.0.tgz')]);
    const files = listing.split('\n').filter(Boolean);
    for (const needed of ['package/package.json', 'package/README.md', 'package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/jose/index.js', 'package/dist/cli/partner-cli.js', 'package/dist/cli/partner-keygen.js']) {
      assert.ok(files.includes(needed), `${needed} in the tarball`);
    }
    assert.deepEqual(files.filter((f) => /private\.jwk|tsbuildinfo|^package\/src\/|\.ts$/.test(f) && !f.endsWith('.d.ts')), []);

    const modules = (await readdir(path.join(app, 'node_modules'))).filter((m) => !m.startsWith('.'));
    assert.deepEqual(modules.sort(), ['@card-gateway', 'jose'], 'nothing of the gateway comes along');
    const keys = path.join(dir, 'config', 'card-gateway', 'partner-keys');
    assert.deepEqual((await readdir(app)).filter((f) => f.includes('jwk')), [], 'no key in the project folder');

    // The operator registers what registration.json holds.
    const registration = JSON.parse(await readFile(path.join(keys, 'registration.json'), 'utf8')) as Record<'signing_keys' | 'encryption_keys', ProjectKey<never>[]>;
    for (const file of ['signing.private.jwk.json', 'encryption.private.jwk.json']) registerSecret((JSON.parse(await readFile(path.join(keys, file), 'utf8')) as { d: string }).d);
    projectId = newId('prj');
    const now = new Date();
    await new ProjectRepository(conn()).insert({
      _id: projectId,
      name: 'Packed partner',
      status: 'active',
      currency: 'USD',
      signing_keys: registration.signing_keys.map((k) => ({ ...k, created_at: now })),
      encryption_keys: registration.encryption_keys.map((k) => ({ ...k, created_at: now })),
    });
    productCode = (await makeProduct(conn(), { issue_fee: 100 })).product_code;
    await deposit(conn(), projectId, 10_000);
  });

  let user: string;

  it('when the quickstart is compiled with TypeScript against the installed types and run, then it issues a card', async () => {
    await run('npm', ['install', '--save-dev', `typescript@${await installedVersion('typescript')}`, `@types/node@${await installedVersion('@types/node')}`], { cwd: app, env });
    for (const file of ['quickstart.ts', 'tsconfig.json']) await copyFile(path.join(EXAMPLES, file), path.join(app, file));
    await node([path.join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
    user = uniq('packed-user');
    const { stdout } = await node(['quickstart.js', user], { PARTNER_PROJECT_ID: projectId, PARTNER_PRODUCT_CODE: productCode });
    const card = JSON.parse(stdout.trim().split('\n').at(-1)!) as { order_id: string; card_id: string; status: string };
    assert.equal(card.status, 'active');
    const stored = await orderModel(conn()).findById(card.order_id).lean();
    assert.deepEqual([stored?.project_id, stored?.status, stored?.card_id], [projectId, 'completed', card.card_id]);
  });

  it('when the JavaScript quickstart and the installed command-line client are used, then they issue and read a card too', async () => {
    await copyFile(path.join(EXAMPLES, 'quickstart.mjs'), path.join(app, 'quickstart.mjs'));
    const { stdout } = await node(['quickstart.mjs', user], { PARTNER_PROJECT_ID: projectId, PARTNER_PRODUCT_CODE: productCode });
    const order = JSON.parse(stdout.trim()) as { order_id: string; status: string };
    assert.equal(order.status, 'completed');
    assert.equal((await orderModel(conn()).findById(order.order_id).lean())?.status, 'completed');

    const cli = await run('npx', ['card-gateway-partner', 'check', '--body', JSON.stringify({ order_id: order.order_id })], { cwd: app, env: { ...env, PARTNER_PROJECT_ID: projectId } });
    assert.equal((JSON.parse(cli.stdout) as { data: { status: string } }).data.status, 'completed');
  });
});
