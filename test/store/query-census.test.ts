import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mongoose, { type Connection } from 'mongoose';
import { DEV_STAFF_TOKEN_FILE } from '../../src/admin/dev-staff-token.js';
import { DEMO, type DemoPartnerFile } from '../../src/back-office/demo-partner.js';
import { PartnerClient } from '@card-gateway/client';
import { TERMINAL_STATUSES } from '../../src/orders/order-model.js';
import { connectDatabase } from '../../src/store/database.js';
import type { CensusEntry } from '../support/command-census.js';
import { spawnGateway, waitUntil, type GatewayProcess } from '../support/gateway-process.js';
import { runScript } from '../support/run-script.js';

/**
 * The plan of every query a whole day of the programme sends to the store, observed rather than
 * listed by hand (test/store/gateway-plans.test.ts lists the known ones; this one catches a query
 * nobody listed). A development gateway, its provider simulator and the back-office scripts run with
 * the census probe (test/support/command-census.ts); the demo, the partner's other operations, the
 * admin API's lookups, a staff card operation and a reconciliation run through them; then each
 * recorded filter on a collection that grows with the programme must search an index. An update or
 * delete runs the same backend query as a find of its filter, so a find's plan is its plan.
 * Skipped on MongoDB, whose plans differ.
 */

/** Collections that stay small whatever the volume (configuration, queues of what is due now). */
const SMALL = new Set(['projects', 'products', 'webhook_endpoints', 'webhook_scans', 'order_queue', 'cardholder_verifications', 'console_sessions']);


describe('every query the gateway, its scripts and its worker send searches an index', function () {
  this.timeout(300_000);
  let dataDir: string;
  let gateway: GatewayProcess | undefined;
  let connection: Connection | undefined;

  before(async function () {
    if (process.env.MONGODB_URI) this.skip();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-census-'));
  });
  after(async () => {
    await connection?.close();
    if (gateway) {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('when a programme day runs through the gateway and its scripts, then no query on a growing collection reads it whole', async () => {
    const census = path.join(dataDir, 'census.jsonl');
    const keysDir = path.join(dataDir, 'keys');
    const env = {
      NODE_ENV: 'development',
      EMBEDDED_STORE_DIR: path.join(dataDir, 'store'),
      GATEWAY_KEYS_DIR: keysDir,
      PROVIDER_URL: '',
      PROVIDER_SIM_DIR: path.join(dataDir, 'provider-sim'),
      COMMAND_CENSUS_FILE: census,
      NODE_OPTIONS: '--import ./dist/test/support/command-census.js',
    };
    gateway = await spawnGateway({ ...env, WORKER_POLL_MS: '50' });

    // The demo: create, check, get, top up, freeze, unfreeze, lists, balance, webhooks.
    const demo = await runScript('demo', [], { ...env, GATEWAY_URL: gateway.url });
    assert.equal(demo.code, 0, demo.stdout + demo.stderr);
    const cardId = /^ {3}card (card_\S+): active, USD/m.exec(demo.stdout)?.[1];
    assert.ok(cardId, demo.stdout);

    // The partner's other operations.
    const partner = JSON.parse(await readFile(path.join(keysDir, DEMO.keysFile), 'utf8')) as DemoPartnerFile;
    const client = new PartnerClient({
      baseUrl: gateway.url,
      projectId: partner.project_id,
      signingKey: { kid: partner.signing_key.kid, alg: partner.signing_key.alg, privateKey: partner.signing_key.private_jwk },
      encryptionKeys: [{ kid: partner.encryption_key.kid, alg: partner.encryption_key.alg, privateKey: partner.encryption_key.private_jwk }],
    });
    const untilDone = async (orderId: string) => {
      await waitUntil(async () => TERMINAL_STATUSES.includes((await client.checkOrder({ order_id: orderId })).data.status), 30_000, `order ${orderId} to end`);
    };
    await untilDone((await client.withdraw({ card_id: cardId, amount: '1.00', currency: 'USD' })).data.order_id);
    await client.createCardholder({
      external_user_id: 'census-user',
      name: { first: 'Ada', last: 'Lovelace' },
      billing_address: { line1: '12 St James Square', city: 'London', postal_code: 'SW1Y 4JH', country: 'GB' },
      contact: { email: 'ada@example.com' },
    });
    await client.getCardholder({ external_user_id: 'census-user' });
    await client.listCards({ status: 'active', limit: 1 }).then(async (page) => page.data.next_cursor && client.listCards({ status: 'active', cursor: page.data.next_cursor }));
    await client.listCards({ external_user_id: partner.external_user_id });
    await client.listOrders({ limit: 1 }).then(async (page) => page.data.next_cursor && client.listOrders({ cursor: page.data.next_cursor }));
    await client.balance({ kind: 'charge', limit: 1 });

    // Support staff: the admin API's lookups and a staff card operation, then the card's end.
    const token = (await readFile(path.join(keysDir, DEV_STAFF_TOKEN_FILE), 'utf8')).trim();
    const admin = async (method: string, urlPath: string, body?: object) => {
      const res = await fetch(`${gateway!.url}/admin/v1${urlPath}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID() },
        ...(body && { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      assert.ok(res.status < 300, `${method} ${urlPath}: ${res.status} ${text}`);
      return JSON.parse(text) as Record<string, unknown>;
    };
    const project = encodeURIComponent(partner.project_id);
    for (const query of [
      'status=failed',
      'last_error_slug=provider_declined',
      'issue_status=initial_topup_error',
      `card_id=${cardId}`,
      `project_id=${project}`,
      `project_id=${project}&external_user_id=${partner.external_user_id}`,
      `project_id=${project}&order_type=card_topup`,
      'from=2026-01-01T00:00:00Z',
    ]) {
      await admin('GET', `/orders?${query}`);
    }
    await admin('GET', '/orders/slug-counts');
    await admin('GET', `/projects/${project}/webhook/events?status=delivered`);
    await admin('GET', `/projects/${project}/cardholders`);
    await admin('GET', '/audit');
    const frozen = await admin('POST', `/cards/${cardId}/freeze`, { reason: 'census' });
    await untilDone(String((frozen.data as { order_id?: string } | undefined)?.order_id ?? frozen.order_id));
    await untilDone((await client.terminate({ card_id: cardId })).data.order_id);

    // The back-office scripts.
    for (const args of [['find', '--slug', 'provider_declined'], ['find', '--project', partner.project_id, '--user', partner.external_user_id], ['counts']]) {
      const run = await runScript('orders', args, env);
      assert.equal(run.code, 0, run.stdout + run.stderr);
    }
    const reconcile = await runScript('reconcile', [], env);
    assert.equal(reconcile.code, 0, reconcile.stdout + reconcile.stderr);

    // Every query recorded, and its plan.
    const { EJSON } = mongoose.mongo.BSON;
    const entries = (await readFile(census, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => EJSON.parse(line, { relaxed: false }) as CensusEntry);
    const address = JSON.parse(await readFile(path.join(env.EMBEDDED_STORE_DIR, 'store-address.json'), 'utf8')) as { uri: string };
    connection = await connectDatabase(address.uri);
    const scans: string[] = [];
    const growing = entries.filter((e) => !SMALL.has(e.collection) && e.db !== 'admin');
    for (const e of growing) {
      const described = `${e.command} ${e.collection} ${EJSON.stringify(e.filter)}${e.sort ? ` sort ${JSON.stringify(e.sort)}` : ''}`;
      // A count of a whole collection is SQLite's COUNT(*), no document decoded (store-server/patches;
      // typed-indexes.test.ts checks its answer); explain speaks of finds only.
      if (e.command === 'count' && Object.keys(e.filter).length === 0) continue;
      const res = await connection.getClient().db(e.db).command({ explain: { find: e.collection, filter: e.filter, ...(e.sort && { sort: e.sort }) } });
      const plan = ((res.queryPlanner as { Plan?: string[] } | undefined)?.Plan ?? []).join(' | ');
      const searches = /SEARCH \S+ USING (COVERING )?INDEX/.test(plan) && !/SCAN/.test(plan);
      // No filter, a sort and a limit: the index walked in the sort's order, stopped after `limit` rows.
      const walksInOrder = e.sort !== undefined && e.limit !== undefined && /SCAN \S+ USING (COVERING )?INDEX/.test(plan) && !/TEMP B-TREE/.test(plan);
      if (!searches && !walksInOrder) scans.push(`${described}\n    plan: ${plan}`);
    }
    assert.deepEqual(scans, [], `queries that read a growing collection whole:\n  ${scans.join('\n  ')}`);

    // The census saw the whole day: the request path, the worker, the provider's webhooks, the outbox and reconciliation.
    const seen = (collection: string, field: string) => growing.some((e) => e.collection === collection && JSON.stringify([e.filter, e.sort]).includes(`"${field}"`));
    for (const [collection, field] of [
      ['orders', '_id'],
      ['orders', 'updated_at'],
      ['cards', 'provider_card_id'],
      ['ledger_entries', 'order_id'],
      ['webhook_events', 'subject_id'],
      ['cardholders', '_id'],
      ['cardholders', 'updated_at'],
      ['order_transitions', '_id'],
    ] as const) {
      assert.ok(seen(collection, field), `no query on ${collection} by ${field} was recorded; the census did not see the whole day`);
    }
    assert.ok(growing.length >= 40, `only ${growing.length} query shapes recorded`);
  });
});
