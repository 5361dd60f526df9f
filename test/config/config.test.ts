import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config/config.js';

describe('configuration', () => {
  it('when nothing is set, then development defaults apply', () => {
    const c = loadConfig({});
    assert.equal(c.NODE_ENV, 'development');
    assert.equal(c.PORT, 8080);
    assert.equal(c.REQUEST_BODY_LIMIT_BYTES, 65536);
    assert.equal(c.REQUEST_MAX_AGE_S, 120);
    assert.equal(c.MONGODB_URI, undefined);
    assert.equal(c.SANDBOX_SIMULATOR_ENABLED, true);
  });

  it('when several variables are bad, then one error names each of them', () => {
    assert.throws(
      () => loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', MONGODB_URI: 'postgres://x', WORKER_ENABLED: 'maybe' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const joined = err.problems.join('\n');
        for (const name of ['PORT', 'LOG_LEVEL', 'MONGODB_URI', 'WORKER_ENABLED']) assert.match(joined, new RegExp(`^${name}:`, 'm'));
        assert.equal(err.problems.length, 4);
        return true;
      },
    );
  });

  it('when production lacks its secrets and store, then each missing variable is named', () => {
    assert.throws(
      () => loadConfig({ NODE_ENV: 'production' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        ['MONGODB_URI', 'GATEWAY_ENCRYPTION_KEYS', 'GATEWAY_SIGNING_KEY', 'CARD_DATA_KEYS', 'CURSOR_KEYS', 'ADMIN_TOKENS'].every((n) =>
          err.problems.some((p) => p.startsWith(`${n}:`)),
        ),
    );
  });

  it('when a staff token is short or the active data key is not among the keys, then it is refused', () => {
    assert.throws(
      () => loadConfig({ ADMIN_TOKENS: 'alice:short', CARD_DATA_KEYS: 'k1:abc', CARD_DATA_ACTIVE_KEY_ID: 'k2' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.some((p) => p.includes('"alice" is shorter')) &&
        err.problems.some((p) => p.startsWith('CARD_DATA_ACTIVE_KEY_ID:')),
    );
  });

  it('when a cursor key is short or its id has other characters, then it is refused, naming the id and never the secret', () => {
    assert.throws(
      () => loadConfig({ CURSOR_KEYS: `ok:${'s'.repeat(32)},short:abc,bad id:${'t'.repeat(32)}` }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.length === 2 &&
        err.problems.some((p) => p === 'CURSOR_KEYS: the secret of "short" is shorter than 32 characters') &&
        err.problems.some((p) => p.startsWith('CURSOR_KEYS: key id "bad id"')) &&
        !err.problems.join('\n').includes('ttt'),
    );
    assert.deepEqual([...loadConfig({ CURSOR_KEYS: `new:${'n'.repeat(32)},old:${'o'.repeat(32)}` }).CURSOR_KEYS!.keys()], ['new', 'old']);
  });

  it('when webhooks may go to private addresses, then that is the default outside production and refused in production', () => {
    assert.equal(loadConfig({}).WEBHOOK_ALLOW_PRIVATE_URLS, true);
    assert.equal(loadConfig({ WEBHOOK_ALLOW_PRIVATE_URLS: 'false' }).WEBHOOK_ALLOW_PRIVATE_URLS, false);
    assert.throws(
      () => loadConfig({ NODE_ENV: 'production', WEBHOOK_ALLOW_PRIVATE_URLS: 'true' }),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith('WEBHOOK_ALLOW_PRIVATE_URLS:')),
    );
  });

  it('when a problem is reported, then the value itself is not echoed', () => {
    try {
      loadConfig({ ADMIN_TOKENS: 'alice:supersecretbutshort' });
      assert.fail('expected ConfigError');
    } catch (err) {
      assert.doesNotMatch((err as Error).message, /supersecretbutshort/);
    }
  });
});
