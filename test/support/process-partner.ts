import type { Connection } from 'mongoose';
import { createBackOffice } from '../../src/back-office/back-office.js';
import { PartnerClient } from '@card-gateway/client';
import { generateKeyPair, privateJwk, publicJwk } from '../../src/jose/index.js';

/**
 * A partner of a gateway running in another process, set up through the back office on that
 * gateway's store: a project with RSA-2048 keys (PS256 signatures, RSA-OAEP-256 answers), a USD
 * product, a verified cardholder, funds. Used by the benchmark and by process-level tests.
 */
export interface ProcessPartner {
  client: PartnerClient;
  projectId: string;
  productCode: string;
  externalUserId: string;
}

const actor = { staff: 'tests', via: 'cli' as const, requestId: 'process-partner' };

export async function setUpProcessPartner(
  connection: Connection,
  url: string,
  options: { productCode?: string; productId?: number; fetch?: typeof fetch } = {},
): Promise<ProcessPartner> {
  const productCode = options.productCode ?? 'BENCH_USD';
  const externalUserId = 'bench-user';
  const office = createBackOffice(connection);
  await Promise.all(Object.values(connection.models).map((m) => m.createIndexes()));
  const project = await office.projects.create(actor, { name: 'Bench partner', currency: 'USD' });
  const signing = (await generateKeyPair('PS256')).privateKey;
  const encryption = (await generateKeyPair('RSA-OAEP-256')).privateKey;
  const signingKey = await office.projects.addKey(actor, project.project_id, 'signing', { alg: 'PS256', jwk: publicJwk(signing), kid: 'bench-sig' });
  const encryptionKey = await office.projects.addKey(actor, project.project_id, 'encryption', { alg: 'RSA-OAEP-256', jwk: publicJwk(encryption), kid: 'bench-enc' });
  await office.products.create(actor, {
    product_code: productCode,
    product_id: options.productId ?? 9001,
    name: 'Bench virtual USD',
    currency: 'USD',
    issue_fee: '0.50',
    initial_balance_min: '0.00',
    initial_balance_max: '100.00',
  });
  await office.cardholders.create(actor, project.project_id, { external_user_id: externalUserId, verification_status: 'verified' });
  await office.funding.fund(actor, project.project_id, { amount: '10000000.00', reason: 'benchmark funding' });
  const client = new PartnerClient({
    baseUrl: url,
    projectId: project.project_id,
    signingKey: { kid: signingKey.kid, alg: 'PS256', privateKey: privateJwk(signing) },
    encryptionKeys: [{ kid: encryptionKey.kid, alg: 'RSA-OAEP-256', privateKey: privateJwk(encryption) }],
    gatewayEncryptionAlg: 'RSA-OAEP-256',
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  return { client, projectId: project.project_id, productCode, externalUserId };
}
