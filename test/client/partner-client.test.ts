import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { GatewayResponseError } from '@card-gateway/client';
import { generateKeyPair, importPublicKey, signThenEncrypt, type Jwk } from '../../src/jose/index.js';
import { clientFor, createTestProject, echoHandlers, startTestGateway, type TestGateway, type TestProject } from '../support/partner.js';

/**
 * The client trusts only what it can decrypt and verify against the gateway's JWKS. A fake gateway
 * serving the real JWKS but forging answers shows each refusal.
 */
describe('partner client: what it refuses to believe', function () {
  this.timeout(30_000);
  let gw: TestGateway;
  let tp: TestProject;
  let fake: Server;
  let fakeUrl: string;
  let answer: (res: ServerResponse) => Promise<void>;

  before(async () => {
    gw = await startTestGateway({ partnerHandlers: echoHandlers() });
    tp = await createTestProject({ url: gw.url });
    const jwks = await (await fetch(`${gw.url}/.well-known/jwks.json`)).text();
    fake = createServer((req, res) => {
      if (req.url === '/.well-known/jwks.json') {
        res.setHeader('content-type', 'application/json');
        res.end(jwks);
        return;
      }
      req.resume();
      req.on('end', () => void answer(res));
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  });
  after(async () => {
    await gw.close();
    await new Promise((resolve) => fake.close(resolve));
  });

  async function refused(): Promise<GatewayResponseError> {
    const client = clientFor(fakeUrl, tp.project._id, tp.keys);
    const err = await client.checkOrder({ order_id: 'o' }).then(
      () => assert.fail('a forged answer was accepted'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof GatewayResponseError, String(err));
    return err;
  }

  const recipient = () => ({ kid: tp.keys.encryption.kid, alg: tp.keys.encryption.alg, key: importPublicKey(tp.keys.encryption.publicJwk, tp.keys.encryption.alg) });

  it('when a success comes as plain JSON, then it is refused (only pre-authentication errors may be plain)', async () => {
    answer = (res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ data: { order_id: 'forged' } }));
      return Promise.resolve();
    };
    assert.match((await refused()).message, /success without sealing/);
  });

  it("when a sealed answer is signed by a key that is not in the gateway's JWKS (even under its kid), then it is refused", async () => {
    const jwks = (await (await fetch(`${gw.url}/.well-known/jwks.json`)).json()) as { keys: Jwk[] };
    const gatewaySigKid = jwks.keys.find((k) => k.use === 'sig')!.kid as string;
    const { privateKey } = await generateKeyPair('EdDSA');
    for (const kid of [gatewaySigKid, 'attacker-key']) {
      answer = async (res) => {
        const token = await signThenEncrypt(Buffer.from(JSON.stringify({ data: { order_id: 'forged' } })), { kid, alg: 'EdDSA', key: privateKey }, recipient());
        res.setHeader('content-type', 'application/jose');
        res.end(token);
      };
      assert.match((await refused()).message, /could not be opened \(invalid_signature\)/);
    }
  });

  it('when the answer has another media type (a proxy page), then it is refused', async () => {
    answer = (res) => {
      res.setHeader('content-type', 'text/html');
      res.end('<html>proxy error</html>');
      return Promise.resolve();
    };
    assert.match((await refused()).message, /unexpected content type text\/html/);
  });

  it('when the workspace package is imported by its name, then @card-gateway/client exports the client and /jose its JOSE layer', async () => {
    const names = ['@card-gateway/client', '@card-gateway/client/jose'];
    const [client, jose] = (await Promise.all(names.map((name) => import(name)))) as Record<string, unknown>[];
    for (const exported of ['PartnerClient', 'GatewayApiError', 'GatewayResponseError', 'WebhookEventError', 'loadKeyFolder']) assert.equal(typeof client![exported], 'function', exported);
    for (const exported of ['signThenEncrypt', 'openNested', 'importPublicKey']) assert.equal(typeof jose![exported], 'function', exported);
  });
});
