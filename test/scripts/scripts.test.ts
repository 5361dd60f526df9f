import assert from 'node:assert/strict';
import type { Connection } from 'mongoose';
import { auditLogModel } from '../../src/back-office/audit-log.js';
import { registerBackOfficeModels } from '../../src/back-office/back-office.js';
import { ledgerEntryModel } from '../../src/ledger/ledger-entry-model.js';
import { orderModel } from '../../src/orders/order-model.js';
import type { ReconcileReport } from '../../src/reconcile/reconciler.js';
import { FakeProvider } from '../support/fake-provider.js';
import { dropIsolatedDb, isolatedDb, uriOf } from '../support/isolated-db.js';
import { buildCleanHistory, ledgerOf, registerHistoryModels, type History } from '../support/ledger-history.js';
import { runScript } from '../support/run-script.js';
import { webhookModels } from '../../src/webhooks/webhook-models.js';

describe('command-line scripts as child processes on the test store', function () {
  this.timeout(120_000);
  const opened: Connection[] = [];
  after(async () => {
    for (const c of opened) await dropIsolatedDb(c);
  });

  async function freshHistory(): Promise<{ connection: Connection; history: History; env: Record<string, string> }> {
    const connection = await isolatedDb('scripts');
    opened.push(connection);
    await registerHistoryModels(connection);
    const history = await buildCleanHistory(connection, 'prj_cli', new FakeProvider());
    return { connection, history, env: { MONGODB_URI: uriOf(connection) } };
  }

  it('when reconcile runs on a clean history, then it prints the table and exits 0; with --json it prints the report', async () => {
    const { env } = await freshHistory();
    const table = await runScript('reconcile', ['--settle-s', '0', '--no-provider'], env);
    assert.equal(table.code, 0, table.stderr + table.stdout);
    assert.match(table.stdout, /prj_cli\s+7\s+7\s+2\s+973\.00 USD\s+0/);
    assert.match(table.stdout, /OK: the ledger, the orders and the cards agree\./);
    assert.equal(table.stderr, '', 'no progress bar when stderr is not a terminal');

    const json = await runScript('reconcile', ['--settle-s', '0', '--no-provider', '--json'], env);
    assert.equal(json.code, 0);
    const report = JSON.parse(json.stdout) as ReconcileReport;
    assert.equal(report.ok, true);
    assert.equal(report.totals.entries, 7);
  });

  const faults: { name: string; kind: string; plant: (c: Connection, h: History) => Promise<unknown> }[] = [
    {
      name: 'a removed ledger entry',
      kind: 'chain_gap',
      plant: (c, h) => ledgerEntryModel(c).collection.deleteOne({ project_id: h.projectId, order_id: h.completed._id, kind: 'charge' }),
    },
    {
      name: 'a changed amount',
      kind: 'arithmetic',
      plant: (c, h) => ledgerEntryModel(c).collection.updateOne({ project_id: h.projectId, order_id: h.createFailed._id, kind: 'charge' }, { $set: { amount: -1 } }),
    },
    {
      name: 'a duplicated refund',
      kind: 'duplicate_entry',
      plant: async (c, h) => {
        const entries = ledgerEntryModel(c).collection;
        await entries.dropIndex('project_id_1_order_id_1_kind_1');
        const chain = await ledgerOf(c, h.projectId);
        const last = chain.at(-1)!;
        const refund = chain.find((e) => e.kind === 'refund' && e.order_id === h.createFailed._id)!;
        await entries.insertOne({ ...refund, _id: undefined, seq: last.seq + 1, balance_before: last.balance_after, balance_after: last.balance_after + refund.amount });
      },
    },
    {
      name: 'a missing refund',
      kind: 'missing_refund',
      plant: (c, h) => ledgerEntryModel(c).collection.deleteOne({ project_id: h.projectId, order_id: h.topupFailed._id, kind: 'refund' }),
    },
    {
      name: 'an order stuck past the limit',
      kind: 'stuck_order',
      plant: (c, h) => orderModel(c).collection.updateOne({ _id: h.activating._id } as never, { $set: { updated_at: new Date(Date.now() - 2 * 3_600_000) } }),
    },
  ];
  for (const fault of faults) {
    it(`when ${fault.name} is planted in the store, then reconcile exits 1 and its report names ${fault.kind}`, async () => {
      const { connection, history, env } = await freshHistory();
      await fault.plant(connection, history);
      const json = await runScript('reconcile', ['--settle-s', '0', '--no-provider', '--json'], { ...env, STUCK_ORDER_AFTER_S: '3600' });
      assert.equal(json.code, 1, json.stderr);
      const report = JSON.parse(json.stdout) as ReconcileReport;
      assert.equal(report.ok, false);
      assert.ok((report.fault_counts as Record<string, number>)[fault.kind]! >= 1, JSON.stringify(report.fault_counts));
      assert.ok(report.faults.every((f) => f.project_id === history.projectId));

      const table = await runScript('reconcile', ['--settle-s', '0', '--no-provider'], { ...env, STUCK_ORDER_AFTER_S: '3600' });
      assert.equal(table.code, 1);
      assert.match(table.stdout, new RegExp(`^${fault.kind} `, 'm'));
      assert.match(table.stdout, /DIFFERENCES FOUND/);
    });
  }

  it('when staff administer through the admin script, then the change is stored and audited under their name, and a repeated fund is a replay', async () => {
    const connection = await isolatedDb('admin_cli');
    opened.push(connection);
    registerBackOfficeModels(connection);
    const env = { MONGODB_URI: uriOf(connection) };

    const created = await runScript('admin', ['projects', 'create', '--name', 'Acme', '--currency', 'EUR', '--as', 'carol', '--json'], env);
    assert.equal(created.code, 0, created.stderr);
    const project = JSON.parse(created.stdout) as { project_id: string; currency: string };
    assert.equal(project.currency, 'EUR');

    const fundArgs = ['fund', project.project_id, '--amount', '75.25', '--reason', 'float', '--idempotency-key', 'cli-float-0001', '--as', 'carol', '--json'];
    const first = await runScript('admin', fundArgs, env);
    const again = await runScript('admin', fundArgs, env);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(first.stdout) as { replayed: boolean }).replayed, false);
    assert.equal((JSON.parse(again.stdout) as { replayed: boolean }).replayed, true);
    const ledger = await ledgerEntryModel(connection).find({ project_id: project.project_id }).lean();
    assert.deepEqual(ledger.map((e) => [e.kind, e.amount, e.currency]), [['deposit', 7525, 'EUR']]);

    const reused = await runScript('admin', ['fund', project.project_id, '--amount', '1.00', '--reason', 'float', '--idempotency-key', 'cli-float-0001'], env);
    assert.equal(reused.code, 4);
    assert.match(reused.stderr, /idempotency_key_reused/);

    const audit = await auditLogModel(connection).find({ target: `project:${project.project_id}` }).sort({ created_at: 1 }).lean();
    assert.deepEqual(
      audit.map((e) => [e.staff, e.via, e.action, e.outcome]),
      [
        ['carol', 'cli', 'project.create', 'applied'],
        ['carol', 'cli', 'project.fund', 'applied'],
        ['carol', 'cli', 'project.fund', 'applied'],
        [audit[3]!.staff, 'cli', 'project.fund', 'failed'],
      ],
    );
    assert.match(audit[3]!.staff, /^cli:/);

    const show = await runScript('admin', ['projects', 'show', project.project_id], env);
    assert.equal(show.code, 0);
    assert.match(show.stdout, /balance\s+75\.25/);

    assert.equal((await runScript('admin', ['projects', 'show', 'prj_missing'], env)).code, 3);
    assert.equal((await runScript('admin', ['fund', project.project_id, '--amount', '-5', '--reason', 'x'], env)).code, 2);
    assert.equal((await runScript('admin', ['projects', 'explode'], env)).code, 2);

    const hook = await runScript('admin', ['webhook', 'set', project.project_id, '--url', 'https://hooks.example.com/cards', '--as', 'carol', '--json'], env);
    assert.equal(hook.code, 0, hook.stderr);
    const shown = JSON.parse(hook.stdout) as { url: string; status: string; project_id: string };
    assert.deepEqual([shown.url, shown.status, shown.project_id], ['https://hooks.example.com/cards', 'active', project.project_id]);
    assert.equal((await webhookModels(connection).endpoints.findById(project.project_id).lean())?.url, 'https://hooks.example.com/cards');
    const refused = await runScript('admin', ['webhook', 'set', project.project_id, '--url', 'ftp://hooks.example.com/'], env);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /webhook_url_refused/);
    const events = await runScript('admin', ['webhook', 'events', project.project_id, '--json'], env);
    assert.deepEqual([events.code, JSON.parse(events.stdout)], [0, { events: [], next_cursor: null }]);
    assert.equal((await runScript('admin', ['webhook', 'redeliver', project.project_id, 'evt_missing'], env)).code, 3);
  });

  it('when --help is asked of any script or command, then it prints usage and exits 0', async () => {
    for (const [name, args] of [['admin', ['--help']], ['admin', ['fund', '--help']], ['orders', ['find', '--help']], ['reconcile', ['--help']]] as const) {
      const res = await runScript(name, [...args], { MONGODB_URI: 'mongodb://127.0.0.1:9/none' });
      assert.equal(res.code, 0, `${name} ${args.join(' ')}`);
      assert.match(res.stdout, /^Usage: npm run /);
    }
  });

  it('when orders find runs with a slug filter, then it lists those orders with counts and pages with --all', async () => {
    const { env, history } = await freshHistory();
    const res = await runScript('orders', ['find', '--slug', 'provider_timeout', '--json'], env);
    assert.equal(res.code, 0, res.stderr);
    const body = JSON.parse(res.stdout) as { orders: { order_id: string }[]; counts: { total: number } };
    assert.deepEqual(body.orders.map((o) => o.order_id), [history.topupFailed._id]);
    assert.equal(body.counts.total, 1);

    const all = await runScript('orders', ['find', '--project', history.projectId, '--limit', '2', '--all'], env);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.stdout.match(/ord_prj_cli_/g)?.length, 7);
    assert.match(all.stdout, /7 matching order\(s\) by error slug:/);
    assert.equal((await runScript('orders', ['find', '--status', 'lost'], env)).code, 2);
  });
});
