import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { newId } from '../../src/ids/ids.js';
import { orderModel, type Order } from '../../src/orders/order-model.js';
import type { ProjectKey } from '../../src/projects/project-model.js';
import { ProjectRepository } from '../../src/projects/project-repository.js';
import { projectRoot } from '../../src/store/project-root.js';
import { BODY_CANARY, registerSecret } from '../support/log-audit.js';
import { echoHandlers, startTestGateway, type TestGateway } from '../support/partner.js';
import { testStore } from '../support/test-store.js';

const run = promisify(execFile);
const script = (name: string) => path.join(projectRoot(), 'packages', 'client', 'dist', 'cli', `${name}.js`);

async function tool(name: string, args: string[], env: Record<string, string> = {}, cwd = projectRoot()): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [script(name), ...args], { cwd, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('partner tools: keygen and command-line client', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  let dir: string;

  before(async () => {
    gw = await startTestGateway({ partnerHandlers: echoHandlers() });
    dir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-partner-'));
  });
  after(async () => {
    await gw.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Registers a keygen folder's registration.json as a project, as the back office will. */
  async function register(keysDir: string, status: 'active' | 'disabled' = 'active'): Promise<string> {
    const reg = JSON.parse(await readFile(path.join(keysDir, 'registration.json'), 'utf8')) as Record<'signing_keys' | 'encryption_keys', ProjectKey<never>[]>;
    for (const file of ['signing.private.jwk.json', 'encryption.private.jwk.json']) {
      const jwk = JSON.parse(await readFile(path.join(keysDir, file), 'utf8')) as Record<string, string>;
      registerSecret(jwk.d!);
    }
    const id = newId('prj');
    const now = new Date();
    await new ProjectRepository(testStore().connection).insert({
      _id: id,
      name: 'CLI partner',
      status,
      currency: 'USD',
      signing_keys: reg.signing_keys.map((k) => ({ ...k, created_at: now })),
      encryption_keys: reg.encryption_keys.map((k) => ({ ...k, created_at: now })),
    });
    return id;
  }

  it('when --help is asked, then both tools explain themselves and exit 0', async () => {
    for (const name of ['partner-keygen', 'partner-cli']) {
      const { code, stdout } = await tool(name, ['--help']);
      assert.equal(code, 0);
      assert.match(stdout, /^Usage: card-gateway-(partner|keygen) /);
    }
  });

  it('when keys are generated and registered, then the CLI creates (with a generated Idempotency-Key), checks and reports error slugs', async () => {
    const keys = path.join(dir, 'default');
    const gen = await tool('partner-keygen', ['--out', keys]);
    assert.equal(gen.code, 0, gen.stderr);
    assert.equal((await stat(path.join(keys, 'signing.private.jwk.json'))).mode & 0o777, 0o600);
    assert.equal((await stat(path.join(keys, 'encryption.private.jwk.json'))).mode & 0o777, 0o600);
    const again = await tool('partner-keygen', ['--out', keys]);
    assert.equal(again.code, 2, 'existing keys are never overwritten silently');
    const project = await register(keys);

    const created = await tool('partner-cli', ['create', '--url', gw.url, '--project', project, '--keys', keys, '--body', JSON.stringify({ external_user_id: 'u-1', note: BODY_CANARY })]);
    assert.equal(created.code, 0, created.stderr);
    const out = JSON.parse(created.stdout) as { status: number; idempotency_key: string; data: { endpoint: string; idempotency_key: string; body: unknown } };
    assert.equal(out.status, 200);
    assert.equal(out.data.endpoint, 'createCard');
    assert.match(out.idempotency_key, /^[0-9a-f-]{36}$/);
    assert.equal(out.data.idempotency_key, out.idempotency_key);
    assert.deepEqual(out.data.body, { external_user_id: 'u-1', note: BODY_CANARY });

    const checked = await tool('partner-cli', ['check', '--url', gw.url, '--project', project, '--keys', keys, '--body', '{"order_id":"ord_1"}']);
    assert.equal(checked.code, 0, checked.stderr);
    assert.equal((JSON.parse(checked.stdout) as { data: { endpoint: string } }).data.endpoint, 'checkOrder');

    const unknown = await tool('partner-cli', ['check', '--url', gw.url, '--project', 'prj_nobody', '--keys', keys]);
    assert.equal(unknown.code, 1);
    assert.equal((JSON.parse(unknown.stderr) as { slug: string }).slug, 'unknown_project');
    const bad = await tool('partner-cli', ['check', '--project', project, '--keys', keys, '--body', '{nope']);
    assert.equal(bad.code, 2);
  });

  it('when a card operation or a cardholder command is run, then it reaches its endpoint, a card operation with a generated Idempotency-Key', async () => {
    const keys = path.join(dir, 'ops');
    assert.equal((await tool('partner-keygen', ['--out', keys])).code, 0);
    const project = await register(keys);
    const base = ['--url', gw.url, '--project', project, '--keys', keys];
    // An unknown card: refused by the operation's rules, so the key was there (else idempotency_key_required) and the refusal is stored.
    const frozen = await tool('partner-cli', ['freeze', ...base, '--body', '{"card_id":"card_missing"}']);
    assert.equal(frozen.code, 1, frozen.stderr);
    const refusal = JSON.parse(frozen.stderr) as { slug: string; status: number; order_id: string; idempotency_key: string };
    assert.deepEqual([refusal.slug, refusal.status], ['card_not_found', 404]);
    assert.match(refusal.idempotency_key, /^[0-9a-f-]{36}$/);
    const stored = await orderModel(testStore().connection).findById(refusal.order_id).lean<Order>();
    assert.deepEqual([stored?.order_type, stored?.idempotency_key, stored?.last_error_slug], ['card_freeze', refusal.idempotency_key, 'card_not_found']);

    const holder = await tool('partner-cli', ['holder-get', ...base, '--body', '{"external_user_id":"nobody"}']);
    assert.equal(holder.code, 1);
    assert.equal((JSON.parse(holder.stderr) as { slug: string }).slug, 'cardholder_not_found');
    assert.equal((await tool('partner-cli', ['toString', ...base])).code, 2, 'only the listed commands');
  });

  it('when no --out is given, then the keys go to the user configuration folder outside any checkout, private files 0600, and the tool says where', async () => {
    const config = path.join(dir, 'xdg');
    const env = { XDG_CONFIG_HOME: config, PARTNER_KEYS_DIR: '' };
    const gen = await tool('partner-keygen', [], env);
    assert.equal(gen.code, 0, gen.stderr);
    const keys = path.join(config, 'card-gateway', 'partner-keys');
    assert.ok(gen.stdout.includes(`written to ${keys}\n`), gen.stdout);
    assert.match(gen.stdout, /private keys \(mode 0600/);
    assert.equal((await stat(keys)).mode & 0o777, 0o700);
    for (const file of ['signing.private.jwk.json', 'encryption.private.jwk.json']) assert.equal((await stat(path.join(keys, file))).mode & 0o777, 0o600);

    // The command-line client finds them there too, without --keys.
    const project = await register(keys);
    const checked = await tool('partner-cli', ['check', '--url', gw.url, '--project', project, '--body', '{"order_id":"ord_1"}'], env);
    assert.equal(checked.code, 0, checked.stderr);
  });

  it('when --out is inside a git working tree, then it is refused unless git ignores it; --force rewrites private files with mode 0600', async () => {
    const tree = path.join(dir, 'checkout');
    await mkdir(tree);
    await run('git', ['init', '-q', tree]);
    await writeFile(path.join(tree, '.gitignore'), 'secrets/\n');

    const refused = await tool('partner-keygen', ['--out', path.join(tree, 'partner-keys')]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /inside the git working tree .* is not git-ignored/);
    await assert.rejects(stat(path.join(tree, 'partner-keys')), 'nothing written');

    const ignored = path.join(tree, 'secrets', 'partner');
    assert.equal((await tool('partner-keygen', ['--out', ignored])).code, 0);
    const file = path.join(ignored, 'signing.private.jwk.json');
    await chmod(file, 0o644);
    const forced = await tool('partner-keygen', ['--out', ignored, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  });

  it('when the repository ignores partner-keys/, then the folder older docs named cannot be committed', async () => {
    const { stdout } = await run('git', ['-C', projectRoot(), 'check-ignore', 'partner-keys/signing.private.jwk.json']);
    assert.equal(stdout.trim(), 'partner-keys/signing.private.jwk.json');
  });

  it('when RSA keys are made with --x509, then the certificates are self-signed for exactly those public keys, and the CLI works with them', async () => {
    const keys = path.join(dir, 'rsa');
    const gen = await tool('partner-keygen', ['--out', keys, '--signing-alg', 'PS256', '--encryption-alg', 'RSA-OAEP-256', '--x509', '--subject', 'Acme partner']);
    assert.equal(gen.code, 0, gen.stderr);
    for (const name of ['signing', 'encryption']) {
      const cert = new X509Certificate(await readFile(path.join(keys, `${name}.cert.pem`)));
      const jwk = JSON.parse(await readFile(path.join(keys, `${name}.public.jwk.json`), 'utf8')) as Record<string, string>;
      assert.ok(cert.publicKey.equals(createPublicKey({ key: { kty: jwk.kty!, n: jwk.n!, e: jwk.e! }, format: 'jwk' })));
      assert.ok(cert.verify(cert.publicKey), 'self-signed');
      assert.match(cert.subject, /CN=Acme partner/);
    }
    const project = await register(keys);
    const res = await tool('partner-cli', ['get', '--url', gw.url, '--project', project, '--keys', keys, '--body', '{"card_id":"card_1"}']);
    assert.equal(res.code, 0, res.stderr);

    const refused = await tool('partner-keygen', ['--out', path.join(dir, 'ec'), '--x509']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--x509 needs an RSA signing key/);
  });
});
