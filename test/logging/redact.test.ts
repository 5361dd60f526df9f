import assert from 'node:assert/strict';
import { REDACTED, redact, redactString } from '../../src/logging/redact.js';

describe('log redaction', () => {
  it('when a string holds a Luhn-valid card number, then it is redacted; other digit runs stay', () => {
    assert.equal(redactString('pan 4111111111111111 end'), `pan ${REDACTED} end`);
    assert.equal(redactString('pan 4111-1111-1111-1111'), `pan ${REDACTED}`);
    assert.equal(redactString('order 1234567890123 count'), 'order 1234567890123 count');
  });

  it('when a string holds a JOSE token, a PEM block or a bearer token, then each is redacted', () => {
    const jwe = 'eyJhbGciOiJSU0EtT0FFUC0yNTYifQ.abc-def.ghi_jkl.mno.pqr';
    const out = redactString(`t=${jwe} k=-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY----- Bearer abc.def`);
    assert.doesNotMatch(out, /eyJ|MIIE|abc\.def/);
  });

  it('when an object has secret-named fields at any depth, then they are replaced whole', () => {
    const out = redact({ a: { pan: '4000', cvv: '123', nested: [{ authorization: 'x', ok: 'fine' }] }, body: { x: 1 } });
    assert.deepEqual(out, { a: { pan: REDACTED, cvv: REDACTED, nested: [{ authorization: REDACTED, ok: 'fine' }] }, body: REDACTED });
  });

  it('when an object is cyclic, then redaction terminates', () => {
    const a: Record<string, unknown> = { name: 'x' };
    a.self = a;
    assert.deepEqual(redact(a), { name: 'x', self: '[…]' });
  });
});
