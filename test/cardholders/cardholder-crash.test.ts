import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cardholderModel, type Cardholder } from '../../src/cardholders/cardholder-model.js';
import type { CreateCardholderRequest } from '@card-gateway/client';
import { cardholderIdFor } from '../../src/ids/ids.js';
import { spawnGateway, waitUntil, type GatewayProcess } from '../support/gateway-process.js';
import { childMongoUri, uniq } from '../support/orders-fixtures.js';
import { clientFor, createTestProject, type TestProject } from '../support/partner.js';
import { setFaults, setRule, settleAccount, simulatorAccounts, simulatorEnv, startTestSimulator } from '../support/provider-sim.js';
import { testStore } from '../support/test-store.js';

/**
 * Real gateway processes SIGKILLed while a cardholder waits for the provider: a restarted gateway
 * (its sweeper) still brings the cardholder to the provider's verdict, with one provider account.
 * The simulator has no webhook target here, so no verdict reaches a gateway by webhook.
 */
describe('cardholders: verification survives a gateway crash', function () {
  this.timeout(120_000);
  const conn = () => testStore().connection;
  let sim: Awaited<ReturnType<typeof startTestSimulator>>;
  let keysDir: string;
  let tp: TestProject;
  const children: GatewayProcess[] = [];

  before(async () => {
    sim = await startTestSimulator();
    keysDir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-holders-'));
  });
  beforeEach(async () => {
    tp = await createTestProject({ url: 'http://127.0.0.1:1' });
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      child.child.kill('SIGKILL');
      await child.exited;
    }
  });
  after(async () => {
    await sim.stop();
    await rm(keysDir, { recursive: true, force: true });
  });

  async function start(): Promise<GatewayProcess> {
    const gw = await spawnGateway({
      ...simulatorEnv(sim.sim),
      MONGODB_URI: childMongoUri(testStore().uri, testStore().dbName),
      GATEWAY_KEYS_DIR: keysDir,
      LOG_LEVEL: 'info',
      WORKER_POLL_MS: '50',
      PROVIDER_RETRY_BASE_MS: '50',
      PROVIDER_REQUEST_TIMEOUT_MS: '500',
      PROVIDER_HTTP_ATTEMPTS: '2',
    });
    children.push(gw);
    return gw;
  }

  async function kill(gw: GatewayProcess): Promise<void> {
    gw.child.kill('SIGKILL');
    await gw.exited;
    children.splice(children.indexOf(gw), 1);
  }

  const body = (user: string): CreateCardholderRequest => ({
    external_user_id: user,
    name: { first: 'Ada', last: 'Lovelace' },
    billing_address: { line1: '12 St James Square', city: 'London', postal_code: 'SW1Y 4JH', country: 'GB' },
    contact: { email: 'ada@example.com' },
  });
  const stored = (user: string) => cardholderModel(conn()).findById(cardholderIdFor(tp.project._id, user)).lean<Cardholder>();
  const accountsOf = async (user: string) => (await simulatorAccounts(sim.sim)).filter((a) => a.reference === cardholderIdFor(tp.project._id, user));

  it('when the gateway is SIGKILLed between the account call and the verification, then the restarted gateway finds the verdict and the cardholder ends verified', async () => {
    const user = uniq('user');
    await setRule(sim.sim, cardholderIdFor(tp.project._id, user), { account_verification: 'hold' });
    const first = await start();
    const { status, data } = await clientFor(first.url, tp.project._id, tp.keys).createCardholder(body(user));
    assert.deepEqual([status, data.status], [201, 'pending']);
    const [account] = await accountsOf(user);
    assert.equal((await stored(user))?.provider_account_id, account?.id, 'the account call was made and recorded');
    await kill(first);

    // The provider decides while no gateway runs (and has nowhere to send its webhook).
    await settleAccount(sim.sim, account!.id, 'verify');
    assert.equal((await stored(user))?.verification_status, 'pending');

    const second = await start();
    await waitUntil(async () => (await stored(user))?.verification_status === 'verified', 20_000, 'the restarted gateway to record the verdict');
    assert.equal((await clientFor(second.url, tp.project._id, tp.keys).getCardholder({ external_user_id: user })).data.status, 'verified');
    assert.equal((await accountsOf(user)).length, 1);
  });

  it('when the gateway is SIGKILLed before the provider ever answered the account call, then the restarted gateway opens the account and the cardholder ends verified', async () => {
    const user = uniq('user');
    const first = await start();
    await setFaults(sim.sim, { error_rate: 1 });
    try {
      const { data } = await clientFor(first.url, tp.project._id, tp.keys).createCardholder(body(user));
      assert.equal(data.status, 'pending');
      assert.equal((await stored(user))?.provider_account_id, undefined);
      await kill(first);
    } finally {
      await setFaults(sim.sim, {});
    }
    assert.deepEqual(await accountsOf(user), []);

    await start();
    await waitUntil(async () => (await stored(user))?.verification_status === 'verified', 20_000, 'the restarted gateway to open the account');
    const accounts = await accountsOf(user);
    assert.equal(accounts.length, 1);
    assert.equal((await stored(user))?.provider_account_id, accounts[0]!.id);
  });
});
