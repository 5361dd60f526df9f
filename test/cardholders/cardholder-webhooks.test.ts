import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { cardholderModel, type Cardholder } from '../../src/cardholders/cardholder-model.js';
import { queuedVerificationModel } from '../../src/cardholders/verification-queue.js';
import type { CreateCardholderRequest } from '@card-gateway/client';
import { cardholderIdFor } from '../../src/ids/ids.js';
import { contentDigest, privateKeyFromJwk, signMessage } from '../../src/provider/http/message-signature.js';
import { SIGNED_WEBHOOK_COMPONENTS, type WireAccountWebhookEvent } from '../../src/provider/http/wire.js';
import { PROVIDER_WEBHOOK_PATH } from '../../src/provider/webhooks/webhook-routes.js';
import { waitUntil } from '../support/gateway-process.js';
import { uniq } from '../support/orders-fixtures.js';
import { createTestProject, startTestGateway, type TestGateway, type TestProject } from '../support/partner.js';
import { setFaults, setRule, setWebhookTarget, settleAccount, simulatorAccounts, simulatorEnv, startTestSimulator } from '../support/provider-sim.js';
import { testStore } from '../support/test-store.js';

/**
 * The provider's account verdicts arriving as signed webhooks. The gateway's sweeper is off
 * (WORKER_ENABLED false), so only the webhook can move a cardholder out of `pending`.
 */
describe('cardholders: the provider verifies or rejects by webhook', function () {
  this.timeout(60_000);
  const conn = () => testStore().connection;
  let sim: Awaited<ReturnType<typeof startTestSimulator>>;
  let tg: TestGateway;
  let tp: TestProject;
  let webhookKey: string;

  before(async () => {
    sim = await startTestSimulator();
    tg = await startTestGateway({ config: { ...simulatorEnv(sim.sim), WORKER_ENABLED: 'false' } });
    await setWebhookTarget(sim.sim, `${tg.url}${PROVIDER_WEBHOOK_PATH}`);
    webhookKey = await readFile(path.join(sim.dir, 'webhook-key.json'), 'utf8');
    tp = await createTestProject({ url: tg.url });
  });
  after(async () => {
    await tg.close();
    await sim.stop();
  });

  const body = (user: string): CreateCardholderRequest => ({
    external_user_id: user,
    name: { first: 'Ada', last: 'Lovelace' },
    billing_address: { line1: '12 St James Square', city: 'London', postal_code: 'SW1Y 4JH', country: 'GB' },
    contact: { email: 'ada@example.com' },
  });
  const stored = (user: string) => cardholderModel(conn()).findById(cardholderIdFor(tp.project._id, user)).lean<Cardholder>();
  const accountOf = async (user: string) => (await simulatorAccounts(sim.sim)).find((a) => a.reference === cardholderIdFor(tp.project._id, user));
  const untilStored = (user: string, status: string) => waitUntil(async () => (await stored(user))?.verification_status === status, 10_000, `the cardholder to be ${status}`);

  /** Posts an event as the provider would, signed with the simulator's webhook key. */
  async function post(event: WireAccountWebhookEvent): Promise<number> {
    const raw = Buffer.from(JSON.stringify(event));
    const url = `${tg.url}${PROVIDER_WEBHOOK_PATH}`;
    const headers = await signMessage(
      { method: 'POST', url, headers: { 'content-type': 'application/json', 'content-digest': contentDigest(raw) } },
      { keyId: 'provider-sim', privateKey: privateKeyFromJwk(webhookKey) },
      SIGNED_WEBHOOK_COMPONENTS,
    );
    return (await fetch(url, { method: 'POST', headers, body: raw })).status;
  }

  it('when a held account is verified at the provider, then its webhook makes the cardholder verified and clears its queue entry', async () => {
    const user = uniq('user');
    await setRule(sim.sim, cardholderIdFor(tp.project._id, user), { account_verification: 'hold' });
    const { data } = await tp.client.createCardholder(body(user));
    assert.equal(data.status, 'pending');
    const account = await accountOf(user);
    assert.equal(account?.status, 'pending');
    assert.equal((await stored(user))?.provider_account_id, account.id);

    await settleAccount(sim.sim, account.id, 'verify');
    await untilStored(user, 'verified');
    assert.equal((await tp.client.getCardholder({ external_user_id: user })).data.status, 'verified');
    assert.equal(await queuedVerificationModel(conn()).findById(cardholderIdFor(tp.project._id, user)).lean(), null);
  });

  it('when the provider rejects at once and delivers its webhook twice, then the cardholder is rejected once and stays so', async () => {
    const user = uniq('user');
    await setRule(sim.sim, cardholderIdFor(tp.project._id, user), { account_verification: 'reject' });
    await setFaults(sim.sim, { webhook_duplicate_rate: 1 });
    try {
      await tp.client.createCardholder(body(user));
      await untilStored(user, 'rejected');
    } finally {
      await setFaults(sim.sim, {});
    }
    const rejectedAt = (await stored(user))?.rejected_at;
    assert.ok(rejectedAt instanceof Date);
    assert.equal((await tp.client.getCardholder({ external_user_id: user })).data.status, 'rejected');

    // A later contrary verdict for the same account changes nothing: the first verdict stands.
    const account = (await accountOf(user))!;
    const status = await post({ id: randomUUID(), type: 'account.verified', createdAt: new Date().toISOString(), data: { account: { ...account, status: 'active' } } });
    assert.equal(status, 200);
    const after = await stored(user);
    assert.deepEqual([after?.verification_status, after?.rejected_at?.getTime()], ['rejected', rejectedAt.getTime()]);
  });

  it('when a verdict names another account than the one the cardholder was given, then it is ignored', async () => {
    const user = uniq('user');
    await setRule(sim.sim, cardholderIdFor(tp.project._id, user), { account_verification: 'hold' });
    await tp.client.createCardholder(body(user));
    const reference = cardholderIdFor(tp.project._id, user);
    const status = await post({
      id: randomUUID(),
      type: 'account.verified',
      createdAt: new Date().toISOString(),
      data: { account: { id: randomUUID(), reference, name: 'Someone Else', status: 'active', createdAt: new Date().toISOString() } },
    });
    assert.equal(status, 200);
    assert.equal((await stored(user))?.verification_status, 'pending');
  });

  it('when an account event is not signed by the provider, then it is refused with provider_webhook_rejected and changes nothing', async () => {
    const user = uniq('user');
    await setRule(sim.sim, cardholderIdFor(tp.project._id, user), { account_verification: 'hold' });
    await tp.client.createCardholder(body(user));
    const account = (await accountOf(user))!;
    const event: WireAccountWebhookEvent = { id: randomUUID(), type: 'account.verified', createdAt: new Date().toISOString(), data: { account: { ...account, status: 'active' } } };
    const res = await fetch(`${tg.url}${PROVIDER_WEBHOOK_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { slug: string } }).error.slug, 'provider_webhook_rejected');
    assert.equal((await stored(user))?.verification_status, 'pending');
  });
});
