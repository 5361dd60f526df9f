import assert from 'node:assert/strict';
import mongoose, { type Connection } from 'mongoose';
import { createBackOffice } from '../../src/back-office/back-office.js';
import { deposit, makeProduct, uniq } from '../support/orders-fixtures.js';
import { createTestProject, startTestGateway, type TestGateway, type TestProject } from '../support/partner.js';
import { testStore } from '../support/test-store.js';

/**
 * The store commands one request costs in steady state (project cached, keys imported, the
 * ledger's head known), counted with the driver's command monitoring on the gateway's own
 * connection. A change that adds a round trip to the request path fails here; the README's
 * performance section explains each command.
 */
describe('store round trips per request', () => {
  let monitored: Connection;
  let gw: TestGateway;
  let tp: TestProject;
  let productCode: string;
  let user: string;
  const commands: string[] = [];

  before(async () => {
    const { uri, dbName } = testStore();
    // The same options as the gateway's, plus command monitoring (set when the client is created).
    monitored = await mongoose.createConnection(uri, { dbName, autoIndex: false, bufferCommands: false, monitorCommands: true }).asPromise();
    monitored.getClient().on('commandStarted', (event) => {
      const target = event.command[event.commandName] as unknown;
      commands.push(`${event.commandName} ${typeof target === 'string' ? target : ''}`.trim());
    });
    gw = await startTestGateway({ connection: monitored });
    tp = await createTestProject({ url: gw.url });
    productCode = (await makeProduct(testStore().connection)).product_code;
    // As staff create them: under the _id derived from (project, external_user_id).
    user = uniq('user');
    await createBackOffice(testStore().connection).cardholders.create({ staff: 'tests', via: 'cli', requestId: 'round-trips' }, tp.project._id, {
      external_user_id: user,
      verification_status: 'verified',
    });
    await deposit(testStore().connection, tp.project._id, 1_000_000);
  });
  after(async () => {
    await gw.close();
    await monitored.close();
  });

  async function counted<T>(call: () => Promise<T>): Promise<{ result: T; sent: string[] }> {
    commands.length = 0;
    const result = await call();
    return { result, sent: commands.splice(0) };
  }

  it('when a partner checks an order, then the gateway sends the store the replay-cache insert and one read of the order, nothing else', async () => {
    const created = await tp.client.createCard({ product_code: productCode, external_user_id: user, initial_balance: '1.00' });
    await tp.client.checkOrder({ order_id: created.data.order_id }); // warms the project cache
    const { result, sent } = await counted(() => tp.client.checkOrder({ order_id: created.data.order_id }));
    assert.equal(result.data.order_id, created.data.order_id);
    assert.deepEqual(sent.sort(), ['find orders', 'insert replay_cache']);
  });

  it('when a partner creates a card, then the request reads only the fence check and sends at most ten commands', async () => {
    await tp.client.createCard({ product_code: productCode, external_user_id: user, initial_balance: '1.00' });
    const { result, sent } = await counted(() => tp.client.createCard({ product_code: productCode, external_user_id: user, initial_balance: '1.00' }));
    assert.equal(result.status, 201);
    // In steady state the request reads nothing it could know: project, product and cardholder are
    // cached, a replay is found by the order insert. What is left: the replay-cache insert, the queue
    // entry, the order, its claim, the charge decision (a transition insert, docs/workflow.md), the
    // ledger entry, the transition out of `new`, the order's snapshots, the fence's one read (nobody
    // moved the order on meanwhile) and the claim's release (the worker is off here; with a free
    // worker slot the lease is handed over instead: one fewer).
    assert.deepEqual(sent.filter((c) => c.startsWith('find')), ['find order_transitions'], `reads: ${sent.join(', ')}`);
    assert.ok(sent.length <= 10, `${sent.length} store commands: ${sent.join(', ')}`);
  });
});
