import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { cardModel } from '../../src/cards/card-model.js';
import { ledgerEntryModel } from '../../src/ledger/ledger-entry-model.js';
import { orderModel } from '../../src/orders/order-model.js';
import { projectModel } from '../../src/projects/project-model.js';
import { projectRoot } from '../../src/store/project-root.js';
import { webhookModels } from '../../src/webhooks/webhook-models.js';
import { uriOf } from '../support/isolated-db.js';
import { waitUntil } from '../support/gateway-process.js';
import { deposit, makeCardholder, makeProduct, uniq } from '../support/orders-fixtures.js';
import { createTestProject, startTestGateway, type TestGateway, type TestProject } from '../support/partner.js';
import { testStore } from '../support/test-store.js';

/** The partner documentation: every code block in it is a file of docs/examples/, and each one runs. */
const PARTNER_DOCS = ['docs/partner-api.md', 'docs/orders.md', 'docs/secure-channel.md', 'packages/client/README.md'];
const CODE = new Set(['ts', 'js', 'mjs', 'sh', 'json']);
/** Run by test/client/package-install.test.ts, in an empty project from the packed tarball. */
const RUN_FROM_THE_TARBALL = ['install-client.sh', 'tsconfig.json', 'quickstart.ts', 'quickstart.mjs'];
const EXAMPLES = path.join(projectRoot(), 'docs', 'examples');

interface Block {
  doc: string;
  line: number;
  lang: string;
  quotes: string | undefined;
  body: string;
}

async function blocksOf(doc: string): Promise<Block[]> {
  const lines = (await readFile(path.join(projectRoot(), doc), 'utf8')).split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.indexOf('```', i + 1);
    assert.ok(end > i, `${doc}:${i + 1}: a code block that never closes`);
    const marker = /^<!-- example: (\S+) -->$/.exec(lines[i - 1] ?? '');
    blocks.push({ doc, line: i + 1, lang: open[1]!, quotes: marker?.[1], body: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

describe('partner documentation: every example is a file that runs', function () {
  this.timeout(300_000);
  const conn = () => testStore().connection;
  const ran = new Set<string>(RUN_FROM_THE_TARBALL);

  it('when the partner docs show code, then each block quotes a file of docs/examples/ exactly, and every example file is quoted', async () => {
    const quoted = new Set<string>();
    for (const doc of PARTNER_DOCS) {
      for (const block of await blocksOf(doc)) {
        if (!CODE.has(block.lang)) continue;
        assert.ok(block.quotes, `${block.doc}:${block.line}: a ${block.lang} block must follow <!-- example: docs/examples/FILE --> and be that file`);
        assert.match(block.quotes, /^docs\/examples\/[\w.-]+$/, `${block.doc}:${block.line}`);
        const file = (await readFile(path.join(projectRoot(), block.quotes), 'utf8')).replace(/\n$/, '');
        assert.equal(block.body, file, `${block.doc}:${block.line} differs from ${block.quotes}`);
        quoted.add(path.basename(block.quotes));
      }
    }
    assert.deepEqual([...quoted].sort(), (await readdir(EXAMPLES)).sort(), 'every example is in the docs');
  });

  describe('the examples against a gateway', () => {
    let tg: TestGateway;
    let tp: TestProject;
    let keysDir: string;
    let productCode: string;
    const children: ChildProcess[] = [];

    before(async () => {
      tg = await startTestGateway({ config: { WORKER_ENABLED: 'true', WORKER_POLL_MS: '20', WEBHOOK_POLL_MS: '50', WEBHOOK_RETRY_BASE_MS: '20', WEBHOOK_RETRY_MAX_MS: '200' } });
      await tg.gateway.start();
      tp = await createTestProject({ url: tg.url });
      productCode = (await makeProduct(conn(), { issue_fee: 100 })).product_code;
      await deposit(conn(), tp.project._id, 100_000);
      // The project's keys as card-gateway-keygen writes them.
      keysDir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-doc-keys-'));
      for (const [name, key] of [['signing', tp.keys.signing], ['encryption', tp.keys.encryption]] as const) {
        await writeFile(path.join(keysDir, `${name}.private.jwk.json`), JSON.stringify({ ...key.privateJwk, kid: key.kid, alg: key.alg }), { mode: 0o600 });
      }
    });
    after(async () => {
      for (const child of children) child.kill('SIGTERM');
      await webhookModels(conn()).endpoints.updateOne({ _id: tp.project._id }, { $set: { status: 'disabled' } });
      await tg.close();
      await rm(keysDir, { recursive: true, force: true });
    });

    const env = (extra: Record<string, string> = {}) => ({
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PARTNER_GATEWAY_URL: tg.url,
      PARTNER_PROJECT_ID: tp.project._id,
      PARTNER_KEYS_DIR: keysDir,
      PARTNER_PRODUCT_CODE: productCode,
      ...extra,
    });

    /** Runs an example (the compiled .js of a .ts, or the file itself) to its end. */
    function example(file: string, args: string[] = [], extra: Record<string, string> = {}): Promise<{ code: number | null; lines: string[]; stderr: string }> {
      ran.add(file);
      const compiled = file.endsWith('.ts') ? path.join(projectRoot(), 'dist', 'docs', 'examples', file.replace(/\.ts$/, '.js')) : path.join(EXAMPLES, file);
      const [command, argv] = file.endsWith('.sh') ? ['sh', [compiled, ...args]] : [process.execPath, [compiled, ...args]];
      const child = spawn(command, argv, { cwd: projectRoot(), env: env(extra), stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      return new Promise((resolve) => child.once('close', (code) => resolve({ code, lines: stdout.split('\n').filter(Boolean), stderr })));
    }
    const jsonLines = (lines: string[]) => lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

    const receiverLines: string[] = [];
    let cardId = '';

    it('when the webhook receiver example runs and is registered, then it opens and prints the events of what the other examples do', async () => {
      const child = spawn(process.execPath, [path.join(projectRoot(), 'dist', 'docs', 'examples', 'webhook-receiver.js')], { cwd: projectRoot(), env: env({ PORT: '0' }), stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      ran.add('webhook-receiver.ts');
      const url = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).on('line', (line) => {
          const listening = /^listening on (\S+)$/.exec(line);
          if (listening) resolve(listening[1]!);
          else receiverLines.push(line);
        });
        child.once('exit', (code) => reject(new Error(`the receiver exited with ${code}`)));
      });
      await webhookModels(conn()).endpoints.create({ _id: tp.project._id, url, status: 'active' });
    });

    it('when the quickstart runs, then it registers the cardholder, issues a card and prints it masked; the order and card are stored', async () => {
      const user = uniq('doc-user');
      const run = await example('quickstart.ts', [user]);
      assert.equal(run.code, 0, run.stderr);
      const [card] = jsonLines(run.lines) as { order_id: string; card_id: string; masked_pan: string; status: string }[];
      assert.ok(card, run.lines.join('\n'));
      assert.match(card.masked_pan, /^\d{6}\*+\d{4}$/);
      assert.ok(!run.lines.join('\n').match(/\b\d{13,19}\b/), 'no card number printed');
      const order = await orderModel(conn()).findById(card.order_id).lean();
      assert.deepEqual([order?.status, order?.external_user_id, order?.card_id], ['completed', user, card.card_id]);
      assert.equal((await cardModel(conn()).findById(card.card_id).lean())?.status, 'active');
      cardId = card.card_id;

      const again = await example('quickstart.mjs', [user]);
      assert.equal(again.code, 0, again.stderr);
      const [second] = jsonLines(again.lines) as { order_id: string; status: string; card_id: string }[];
      assert.equal(second?.status, 'completed');
      assert.equal((await orderModel(conn()).findById(second.order_id).lean())?.status, 'completed');
    });

    it('when the card operations example runs on that card, then each operation completes and a terminated card refuses a top-up', async () => {
      const run = await example('card-operations.ts', [cardId]);
      assert.equal(run.code, 0, run.stderr);
      const lines = jsonLines(run.lines);
      assert.deepEqual(lines.slice(0, 5).map((l) => [l.operation, l.answered, l.status]), [
        ['top-up', 201, 'completed'],
        ['freeze', 201, 'completed'],
        ['unfreeze', 201, 'completed'],
        ['withdraw', 201, 'completed'],
        ['terminate', 201, 'completed'],
      ]);
      assert.deepEqual([lines[5]?.refused, lines[5]?.slug], [409, 'card_terminated']);
      assert.equal((await cardModel(conn()).findById(cardId).lean())?.status, 'terminated');
      assert.equal((await orderModel(conn()).findById(lines[5]!.order_id).lean())?.last_error_slug, 'card_terminated');
    });

    it('when the lists and balance example runs, then its statement walk agrees with the ledger', async () => {
      const run = await example('lists-and-balance.ts');
      assert.equal(run.code, 0, run.stderr);
      const [balance, failed, cards] = jsonLines(run.lines) as [{ balance: string; entries: number }, { failed: { slug: string }[] }, { cards: number }];
      const entries = await ledgerEntryModel(conn()).countDocuments({ project_id: tp.project._id });
      assert.equal(balance.entries, entries);
      assert.ok(failed.failed.some((o) => o.slug === 'card_terminated'));
      assert.equal(cards.cards, await cardModel(conn()).countDocuments({ project_id: tp.project._id }));
    });

    it('when the sandbox example runs, then the held card waits at the provider until it is issued', async () => {
      const user = await makeCardholder(conn(), tp.project._id);
      const run = await example('sandbox.ts', [user]);
      assert.equal(run.code, 0, run.stderr);
      const lines = jsonLines(run.lines);
      assert.deepEqual([lines[1]?.issue_status, lines[1]?.provider_card_status], ['card_create_pending', 'issuing']);
      assert.equal(lines[2]?.status, 'completed');
      assert.equal((await orderModel(conn()).findById(lines[2].order_id).lean())?.status, 'completed');
    });

    it('then the receiver has printed, once each, the cardholder, order and card events of those runs', async () => {
      const printed = () => jsonLines(receiverLines) as { type: string; id: string }[];
      await waitUntil(() => Promise.resolve(['cardholder.verified', 'order.completed', 'card.active', 'card.frozen', 'card.terminated', 'order.failed'].every((t) => printed().some((l) => l.type === t))), 60_000, 'the events printed');
      const ids = printed().map((l) => l.id);
      assert.equal(new Set(ids).size, ids.length, 'each event acted on once');
    });

    it('when the command-line walkthrough runs, then the project is registered with its keys, funded, and its card issued and topped up', async () => {
      const acmeKeys = path.join(keysDir, 'acme');
      const run = await example('cli-walkthrough.sh', [], { PARTNER_KEYS_DIR: acmeKeys, MONGODB_URI: uriOf(conn()), NODE_ENV: 'test', LOG_LEVEL: 'warn', PARTNER_PROJECT_ID: '' });
      assert.equal(run.code, 0, `${run.lines.join('\n')}\n${run.stderr}`);
      const project = await projectModel(conn()).findOne({ name: 'Acme' }).sort({ created_at: -1 }).lean();
      assert.ok(project);
      assert.deepEqual([project.signing_keys.length, project.encryption_keys.length], [1, 1]);
      const orders = await orderModel(conn()).find({ project_id: project._id }).sort({ created_at: 1 }).lean();
      assert.deepEqual(orders.map((o) => [o.order_type, o.status]), [['balance_deposit', 'completed'], ['card_issue', 'completed'], ['card_topup', 'completed']]);
      assert.ok(run.lines.some((l) => /^\d{6}\*+\d{4}$/.test(l)), 'the masked number printed');
    });

    it('when every example has run, then none of docs/examples was left out', async () => {
      assert.deepEqual([...ran].sort(), (await readdir(EXAMPLES)).sort());
    });
  });
});
