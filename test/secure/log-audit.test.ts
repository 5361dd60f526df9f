import assert from 'node:assert/strict';
import { generateKeyPair, privateJwk } from '../../src/jose/index.js';
import { capturedLogLines, testLogger } from '../support/log-capture.js';
import { BODY_CANARY, auditLogLines, registerSecret } from '../support/log-audit.js';
import { encryptTo, gatewayEncryptionKeys, requestClaims, signClaims } from '../support/craft.js';
import { createTestProject, startTestGateway } from '../support/partner.js';

describe('log audit (run again over the whole suite after the last test)', () => {
  it('when a line holds a JOSE token, PEM, a private JWK, a registered secret or body content, then the audit names it', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const jwk = privateJwk(privateKey);
    registerSecret(jwk.d as string);
    const gw = await startTestGateway();
    try {
      const tp = await createTestProject({ url: gw.url });
      const token = await encryptTo(await signClaims(requestClaims(tp, '/x'), tp.keys.signing), (await gatewayEncryptionKeys(gw.url))['RSA-OAEP-256']);
      const leaks = [
        `{"message":"got ${token}"}`,
        `{"message":"${token.split('.').slice(0, 3).join('.')}"}`,
        '{"key":"-----BEGIN PRIVATE KEY-----\\nMIGHAgEA"}',
        `{"jwk":{"kty":"EC","d":"${jwk.d as string}"}}`,
        `{"note":"the scalar is ${jwk.d as string}"}`,
        `{"body":{"note":"${BODY_CANARY}"}}`,
      ];
      for (const line of leaks) assert.equal(auditLogLines([line]).length > 0, true, line);
      assert.deepEqual(auditLogLines(['{"message":"request","status":401,"request_id":"0b7e2c1a-1111-4222-8333-944455556666"}']), []);
    } finally {
      await gw.close();
    }
  });

  it('when the logger is handed a token, a private JWK and a decrypted body, then redaction keeps all of them out of the lines', () => {
    const before = capturedLogLines().length;
    testLogger.warn('partner sent eyJhbGciOiJSU0EtT0FFUC0yNTYifQ.abc.def.ghi.jkl', {
      jwk: { kty: 'EC', d: 'c2VjcmV0LXNjYWxhci12YWx1ZS0xMjM0NTY3OA' },
      body: { note: BODY_CANARY },
    });
    assert.deepEqual(auditLogLines(capturedLogLines().slice(before)), []);
  });
});
