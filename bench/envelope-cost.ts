/**
 * What the secure channel alone costs per request: opening a partner request (RSA-OAEP-256 unwrap,
 * A256GCM, PS256 verify) and sealing the answer (EdDSA signature, RSA-OAEP-256 wrap to the
 * partner, A256GCM), through the gateway's own src/jose, in CPU milliseconds over all threads
 * (jose runs on WebCrypto, whose jobs run on libuv's pool). Set beside the ceiling's bare unwrap,
 * it bounds the ratio any request can reach before HTTP or the store cost anything.
 */
import { randomUUID } from 'node:crypto';
import { generateKeyPair, openNested, signThenEncrypt } from '../src/jose/index.js';

export interface EnvelopeCost {
  open_ms: number;
  seal_ms: number;
}

const IN_FLIGHT = 16;

async function cpuMsPerCall(call: () => Promise<unknown>, calls: number): Promise<number> {
  for (let i = 0; i < 100; i++) await call(); // warm up: key caches, JIT
  const before = process.cpuUsage();
  for (let done = 0; done < calls; done += IN_FLIGHT) {
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, calls - done) }, call));
  }
  const used = process.cpuUsage(before);
  return Math.round(((used.user + used.system) / calls / 1000) * 1000) / 1000;
}

export async function measureEnvelopeCost(calls = 2000): Promise<EnvelopeCost> {
  const [gatewayEncryption, gatewaySigning, partnerSigning, partnerEncryption] = await Promise.all([
    generateKeyPair('RSA-OAEP-256'),
    generateKeyPair('EdDSA'),
    generateKeyPair('PS256'),
    generateKeyPair('RSA-OAEP-256'),
  ]);
  // A check request and answer of the sizes the benchmark sends.
  const claims = { iss: 'prj_bench', aud: 'card-gateway', iat: 0, jti: randomUUID(), htm: 'POST', htu: '/api/v1/orders/check', body: { order_id: 'ord_'.padEnd(28, 'x') } };
  const request = await signThenEncrypt(
    Buffer.from(JSON.stringify(claims)),
    { kid: 'partner-sig', alg: 'PS256', key: partnerSigning.privateKey },
    { kid: 'gateway-enc', alg: 'RSA-OAEP-256', key: gatewayEncryption.publicKey },
  );
  const answer = Buffer.from(JSON.stringify({ data: { order_id: 'ord_', status: 'completed', details: 'x'.repeat(600) } }));
  const decryption = { kid: 'gateway-enc', alg: 'RSA-OAEP-256' as const, key: gatewayEncryption.privateKey };
  const verification = { kid: 'partner-sig', alg: 'PS256' as const, key: partnerSigning.publicKey };
  return {
    open_ms: await cpuMsPerCall(() => openNested(request, () => decryption, () => Promise.resolve(verification)), calls),
    seal_ms: await cpuMsPerCall(
      () =>
        signThenEncrypt(
          answer,
          { kid: 'gateway-sig', alg: 'EdDSA', key: gatewaySigning.privateKey },
          { kid: 'partner-enc', alg: 'RSA-OAEP-256', key: partnerEncryption.publicKey },
        ),
      calls,
    ),
  };
}
