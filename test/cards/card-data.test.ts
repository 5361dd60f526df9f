import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CardCipher, CardDataDecryptError } from '../../src/cards/card-cipher.js';
import { DEV_KEY_FILE, keyRingFrom, loadCardDataKeys } from '../../src/cards/card-data-keys.js';
import { luhnCheckDigit, luhnValid, maskPan } from '../../src/cards/luhn.js';
import { testConfig } from '../support/test-config.js';

const secrets = { pan: '4000001234567899', cvv: '123', expiry_month: 7, expiry_year: 2030 };
const key = () => randomBytes(32).toString('base64');

describe('card data encryption', () => {
  it('when card data is sealed, then it opens only for the same card id, and the ciphertext does not contain it', () => {
    const cipher = new CardCipher(keyRingFrom([['k1', key()]], 'k1'));
    const sealed = cipher.seal('card_a', secrets);
    assert.equal(sealed.key_id, 'k1');
    assert.ok(!JSON.stringify(sealed).includes(secrets.pan));
    assert.deepEqual(cipher.open('card_a', sealed), secrets);
    assert.throws(() => cipher.open('card_b', sealed), CardDataDecryptError, 'bound to its card');
    const tampered = { ...sealed, ciphertext: Buffer.from(Buffer.from(sealed.ciphertext, 'base64').map((b, i) => (i === 0 ? b ^ 1 : b))).toString('base64') };
    assert.throws(() => cipher.open('card_a', tampered), CardDataDecryptError);
  });

  it('when the active key rotates, then new data uses the new key and data sealed under the old key still opens', () => {
    const k1 = key();
    const before = new CardCipher(keyRingFrom([['k1', k1]], 'k1'));
    const old = before.seal('card_a', secrets);
    const after = new CardCipher(keyRingFrom([['k1', k1], ['k2', key()]], 'k2'));
    assert.equal(after.seal('card_b', secrets).key_id, 'k2');
    assert.deepEqual(after.open('card_a', old), secrets);
    const withoutOld = new CardCipher(keyRingFrom([['k2', key()]], 'k2'));
    assert.throws(() => withoutOld.open('card_a', old), /not configured/);
  });

  it('when CARD_DATA_KEYS is set, then it is the ring; a key that is not 32 bytes is refused', async () => {
    const k = key();
    const ring = await loadCardDataKeys(testConfig({ CARD_DATA_KEYS: `a:${k},b:${key()}`, CARD_DATA_ACTIVE_KEY_ID: 'b' }));
    assert.equal(ring.activeKeyId, 'b');
    assert.deepEqual(ring.keys.get('a'), Buffer.from(k, 'base64'));
    await assert.rejects(loadCardDataKeys(testConfig({ CARD_DATA_KEYS: 'a:c2hvcnQ=', CARD_DATA_ACTIVE_KEY_ID: 'a' })), /32 bytes/);
  });

  it('when no keys are configured in test, then one is generated once into the keys folder with mode 0600, and reused', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'card-keys-'));
    try {
      const config = testConfig({ GATEWAY_KEYS_DIR: dir });
      const [a, b] = await Promise.all([loadCardDataKeys(config), loadCardDataKeys(config)]);
      assert.equal(a.activeKeyId, b.activeKeyId, 'concurrent starts agree on one key');
      const file = path.join(dir, DEV_KEY_FILE);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.equal((await loadCardDataKeys(config)).activeKeyId, a.activeKeyId);
      assert.ok((await readFile(file, 'utf8')).includes(a.activeKeyId));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('when test numbers are made, then they pass Luhn and mask to first six and last four', () => {
    const body = '400000123456789';
    const pan = body + luhnCheckDigit(body);
    assert.ok(luhnValid(pan));
    assert.ok(!luhnValid(`${body}${(Number(luhnCheckDigit(body)) + 1) % 10}`));
    assert.equal(maskPan(pan), `400000******${pan.slice(-4)}`);
  });
});
