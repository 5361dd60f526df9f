import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../src/store/project-root.js';

/** Starts dist/src/main.js with exactly `env` and collects what it prints until it exits. */
function runGateway(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(projectRoot(), 'dist', 'src', 'main.js')], {
      cwd: projectRoot(),
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

describe('production refuses to start without a card provider', function () {
  this.timeout(40_000);

  it('when NODE_ENV=production has no provider settings, then the gateway exits 1 naming each missing one on its own line, and starts no simulator', async () => {
    const { code, stderr, stdout } = await runGateway({ NODE_ENV: 'production', MONGODB_URI: 'mongodb://127.0.0.1:1/none' });
    assert.equal(code, 1);
    const lines = stderr.split('\n');
    for (const setting of ['PROVIDER_URL', 'PROVIDER_API_KEY', 'PROVIDER_SIGNING_KEY', 'PROVIDER_WEBHOOK_KEYS']) {
      assert.equal(lines.filter((l) => l.includes(`${setting}: required in production`)).length, 1, `${setting} named once:\n${stderr}`);
    }
    assert.doesNotMatch(stdout + stderr, /provider simulator started/);
  });

  it('when the provider settings are given, then none of them is reported missing', async () => {
    const { stderr } = await runGateway({
      NODE_ENV: 'production',
      PROVIDER_URL: 'https://provider.invalid',
      PROVIDER_API_KEY: 'k',
      PROVIDER_SIGNING_KEY: '{}',
      PROVIDER_WEBHOOK_KEYS: '{}',
    });
    assert.doesNotMatch(stderr, /PROVIDER_/);
    assert.match(stderr, /MONGODB_URI: required in production/, 'the other production rules still apply');
  });
});
