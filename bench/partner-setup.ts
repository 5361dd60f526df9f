import { randomUUID } from 'node:crypto';
import type { Connection } from 'mongoose';
import { createBackOffice } from '../src/back-office/back-office.js';
import { PartnerClient } from '../src/client/index.js';
import { generateKeyPair, privateJwk, publicJwk } from '../src/jose/index.js';
import type { PreparedRequest } from './load.js';

const actor = { staff: 'bench', via: 'cli' as const, requestId: 'bench' };

/** A project with RSA-2048 keys (PS256 signatures, RSA-OAEP-256 answers), a product, a verified cardholder, funds. */
export async function setUpPartner(connection: Connection, url: string): Promise<PartnerClient> {
  const office = createBackOffice(connection);
  await Promise.all(Object.values(connection.models).map((m) => m.createIndexes()));
  const project = await office.projects.create(actor, { name: 'Bench partner', currency: 'USD' });
  const signing = (await generateKeyPair('PS256')).privateKey;
  const encryption = (await generateKeyPair('RSA-OAEP-256')).privateKey;
  const signingKey = await office.projects.addKey(actor, project.project_id, 'signing', { alg: 'PS256', jwk: publicJwk(signing), kid: 'bench-sig' });
  const encryptionKey = await office.projects.addKey(actor, project.project_id, 'encryption', { alg: 'RSA-OAEP-256', jwk: publicJwk(encryption), kid: 'bench-enc' });
  await office.products.create(actor, {
    product_code: 'BENCH_USD',
    product_id: 9001,
    name: 'Bench virtual USD',
    currency: 'USD',
    issue_fee: '0.50',
    initial_balance_min: '0.00',
    initial_balance_max: '100.00',
  });
  await office.cardholders.create(actor, project.project_id, { external_user_id: 'bench-user', verification_status: 'verified' });
  await office.funding.fund(actor, project.project_id, { amount: '10000000.00', reason: 'benchmark funding' });
  return new PartnerClient({
    baseUrl: url,
    projectId: project.project_id,
    signingKey: { kid: signingKey.kid, alg: 'PS256', privateKey: privateJwk(signing) },
    encryptionKeys: [{ kid: encryptionKey.kid, alg: 'RSA-OAEP-256', privateKey: privateJwk(encryption) }],
    gatewayEncryptionAlg: 'RSA-OAEP-256',
  });
}

/** Seals `count` requests before the timed part (each with its own jti, and a fresh key if asked). */
export async function prepare(client: PartnerClient, urlPath: string, body: object, count: number, withKey: boolean): Promise<PreparedRequest[]> {
  const out: PreparedRequest[] = [];
  for (let i = 0; i < count; i++) {
    const idempotencyKey = withKey ? randomUUID() : undefined;
    out.push({ token: await client.seal(client.claims(urlPath, body, idempotencyKey)), idempotencyKey });
  }
  return out;
}
