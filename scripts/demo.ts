/**
 * Issues one card end to end through the partner client, as the demo partner the development
 * gateway sets up on the embedded store (npm start writes .keys/demo-partner.json):
 *   npm start            # in one terminal
 *   npm run demo         # in another
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { demoPartnerFile, maskPan, type DemoPartnerFile } from '../src/back-office/demo-partner.js';
import { GatewayApiError, PartnerClient, type CardIssueOrder } from '../src/client/index.js';
import { loadConfig } from '../src/config/config.js';
import { EXIT, UsageError, out, parseCommandLine, runScript } from './lib/cli.js';

const USAGE = `Usage: npm run demo -- [options]

Issues a virtual card end to end as the sandbox demo partner: create the order, poll it until it
is completed, then read the card (the number is shown masked), list the project's newest orders
and print the master balance with the latest ledger entries. The gateway must be running
(npm start); on the embedded development store it writes the demo partner's keys to
GATEWAY_KEYS_DIR/demo-partner.json (default .keys/).

Options:
  --initial-balance A   initial balance in USD (default 25.00)
  --timeout-s N         how long to wait for the order (default 60)
  -h, --help            this help

Environment:
  GATEWAY_URL           the gateway (default http://127.0.0.1:8080)

Exit codes: 0 card issued, 1 the order failed or timed out, 2 bad arguments or no demo keys,
5 the gateway is not reachable.`;

const OPTIONS = {
  'initial-balance': { type: 'string' },
  'timeout-s': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function main(): Promise<number> {
  try {
    return await demo();
  } catch (err) {
    // fetch() reports every network failure (refused, unknown host, reset) as this TypeError.
    if (err instanceof TypeError && err.message === 'fetch failed') {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const url = process.env.GATEWAY_URL || 'http://127.0.0.1:8080';
      process.stderr.write(`The gateway is not reachable at ${url} (${cause?.code ?? cause?.message ?? 'network error'}). Is it running? Set GATEWAY_URL if it is elsewhere.\n`);
      return EXIT.unavailable;
    }
    throw err;
  }
}

async function demo(): Promise<number> {
  const { values, positionals } = parseCommandLine(() => parseArgs({ args: process.argv.slice(2), options: OPTIONS, allowPositionals: true, strict: true }));
  if (values.help) {
    out(USAGE);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const timeoutS = Number(values['timeout-s'] ?? 60);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new UsageError('--timeout-s must be a positive number');

  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig();
  const file = demoPartnerFile(config);
  if (!existsSync(file)) {
    process.stderr.write(`No demo partner keys at ${file}.\nStart the gateway first (npm start, development on the embedded store): it creates them.\n`);
    return EXIT.usage;
  }
  const partner = JSON.parse(await readFile(file, 'utf8')) as DemoPartnerFile;
  const baseUrl = process.env.GATEWAY_URL || 'http://127.0.0.1:8080';
  const client = new PartnerClient({
    baseUrl,
    projectId: partner.project_id,
    audience: config.GATEWAY_AUDIENCE,
    signingKey: { kid: partner.signing_key.kid, alg: partner.signing_key.alg, privateKey: partner.signing_key.private_jwk },
    encryptionKeys: [{ kid: partner.encryption_key.kid, alg: partner.encryption_key.alg, privateKey: partner.encryption_key.private_jwk }],
  });

  out(`Gateway ${baseUrl}, project ${partner.project_id}`);
  const idempotencyKey = randomUUID();
  out(`1. create: product ${partner.product_code}, cardholder ${partner.external_user_id}, Idempotency-Key ${idempotencyKey}`);
  let order: CardIssueOrder;
  try {
    const created = await client.createCard(
      {
        product_code: partner.product_code,
        external_user_id: partner.external_user_id,
        initial_balance: values['initial-balance'] ?? '25.00',
        label: 'Demo card',
        external_id: `demo-${Date.now()}`,
      },
      { idempotencyKey },
    );
    order = created.data;
  } catch (err) {
    if (err instanceof GatewayApiError) {
      out(`   refused: ${err.slug}${err.order_id ? ` (order ${err.order_id})` : ''}: ${err.message}`);
      return EXIT.failed;
    }
    throw err;
  }
  out(`   order ${order.order_id}: ${order.status}; charged ${String(order.data.total_charge)} USD, balance ${order.balance_before} -> ${order.balance_after}`);

  out('2. check: polling the order');
  const deadline = Date.now() + timeoutS * 1000;
  let seen = '';
  while (order.status !== 'completed' && order.status !== 'failed') {
    if (Date.now() > deadline) {
      out(`   gave up after ${timeoutS} s: still ${order.status}/${order.issue_status ?? ''}`);
      return EXIT.failed;
    }
    await new Promise((r) => setTimeout(r, 300));
    order = (await client.checkOrder({ order_id: order.order_id })).data;
    const state = `${order.status}${order.issue_status ? ` / ${order.issue_status}` : ''}`;
    if (state !== seen) out(`   ${state}`);
    seen = state;
  }
  if (order.status === 'failed') {
    out(`   failed: ${order.last_error_slug ?? ''}: ${order.last_error ?? ''}`);
    return EXIT.failed;
  }

  out('3. get: reading the card');
  const card = (await client.getCard({ order_id: order.order_id })).data;
  out(`   card ${card.card_id}: ${card.status}, ${card.currency}, product ${card.product_code}`);
  out(`   number ${maskPan(card.pan)}  (masked; the full number, CVV and expiry arrived encrypted and are not shown)`);

  out('4. list: the newest orders of the project');
  for (const listed of (await client.listOrders({ limit: 5 })).data.orders) {
    out(`   ${listed.created_at}  ${listed.order_id}  ${listed.order_type}  ${listed.status}${listed.refunds.length > 0 ? `  refunded ${listed.refunded_amount}` : ''}`);
  }
  const { data: balance } = await client.balance({ limit: 3 });
  out(`5. balance: ${balance.balance} ${balance.currency} after ledger entry ${balance.balance_seq}; the latest entries:`);
  for (const entry of balance.entries) out(`   #${entry.seq}  ${entry.kind}  ${entry.amount}  -> ${entry.balance_after}  (order ${entry.order_id})`);
  out('Done: a card was issued end to end.');
  return EXIT.ok;
}

runScript(main, USAGE);
