/**
 * Issues one card end to end through the partner client, as the demo partner the development
 * gateway sets up on the embedded store (npm start writes .keys/demo-partner.json), then tops it
 * up, freezes and unfreezes it, and prints the webhook events the gateway sent about it all:
 *   npm start            # in one terminal
 *   npm run demo         # in another
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { devStaffTokenFile } from '../src/admin/dev-staff-token.js';
import { demoPartnerFile, maskPan, type DemoPartnerFile } from '../src/back-office/demo-partner.js';
import { GatewayApiError, PartnerClient, WebhookEventError, type CardIssueOrder, type PartnerOrder, type WebhookEvent } from '@card-gateway/client';
import { loadConfig, type Config } from '../src/config/config.js';
import { EXIT, UsageError, out, parseCommandLine, runScript } from './lib/cli.js';

const USAGE = `Usage: npm run demo -- [options]

Issues a virtual card end to end as the sandbox demo partner. First it starts a small webhook
receiver on 127.0.0.1 (an ephemeral port) and registers it as the project's webhook endpoint
through the admin API. Then: create the order, poll it until it is completed, read the card (the
number is shown masked), top the card up, freeze it, unfreeze it, list the project's cards and
newest orders, print the master balance with the latest ledger entries, and finally the webhook
events received (each opened with the partner client's openEvent), waiting for those of the
demo's orders. The gateway must be running (npm start); on the embedded development store it
writes the demo partner's keys to GATEWAY_KEYS_DIR/demo-partner.json (default .keys/) and its
staff token to GATEWAY_KEYS_DIR/dev-staff-token.

Options:
  --initial-balance A   initial balance in USD (default 25.00)
  --topup A             top-up in USD (default 10.00)
  --timeout-s N         how long to wait for each order (default 60)
  --events-timeout-s N  how long to wait for the webhook events at the end (default 30)
  -h, --help            this help

Environment:
  GATEWAY_URL           the gateway (default http://127.0.0.1:8080)
  ADMIN_URL             its admin API (default: ADMIN_HOST:ADMIN_PORT when ADMIN_PORT is set,
                        else GATEWAY_URL)
  STAFF_TOKEN           a staff token for the webhook registration (default: the development
                        token file); without one the demo runs without webhooks

Exit codes: 0 card issued and every step done, 1 an order failed or timed out, or its events did
not arrive, 2 bad arguments or no demo keys, 5 the gateway is not reachable.`;

const OPTIONS = {
  'initial-balance': { type: 'string' },
  'timeout-s': { type: 'string' },
  topup: { type: 'string' },
  'events-timeout-s': { type: 'string' },
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
  const eventsTimeoutS = Number(values['events-timeout-s'] ?? 30);
  if (!Number.isFinite(eventsTimeoutS) || eventsTimeoutS <= 0) throw new UsageError('--events-timeout-s must be a positive number');

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
  const receiver = await startReceiver(client);
  const endpoint = await registerReceiver(config, baseUrl, partner.project_id, receiver);
  let code: number;
  try {
    code = await steps(client, partner, receiver, endpoint !== undefined, {
      initialBalance: values['initial-balance'] ?? '25.00',
      topUp: values.topup ?? '10.00',
      timeoutMs: timeoutS * 1000,
      eventsTimeoutMs: eventsTimeoutS * 1000,
    });
  } finally {
    // The receiver ends with the demo: deliveries stop until the next run registers a new one.
    if (endpoint) await endpoint.disable();
    await receiver.close();
  }
  if (code === EXIT.ok) out('Done: a card was issued end to end, topped up, frozen and unfrozen.');
  return code;
}

interface DemoOptions {
  initialBalance: string;
  topUp: string;
  timeoutMs: number;
  eventsTimeoutMs: number;
}

async function steps(client: PartnerClient, partner: DemoPartnerFile, receiver: Receiver, webhooks: boolean, options: DemoOptions): Promise<number> {
  /** The demo's orders, whose events it waits for at the end. */
  const orderIds: string[] = [];
  const idempotencyKey = randomUUID();
  out(`1. create: product ${partner.product_code}, cardholder ${partner.external_user_id}, Idempotency-Key ${idempotencyKey}`);
  let order: CardIssueOrder;
  try {
    const created = await client.createCard(
      {
        product_code: partner.product_code,
        external_user_id: partner.external_user_id,
        initial_balance: options.initialBalance,
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
  orderIds.push(order.order_id);
  out(`   order ${order.order_id}: ${order.status}; charged ${String(order.data.total_charge)} USD, balance ${order.balance_before} -> ${order.balance_after}`);

  out('2. check: polling the order');
  order = await follow(client, order, options.timeoutMs);
  if (order.status !== 'completed') return EXIT.failed;

  out('3. get: reading the card');
  const card = (await client.getCard({ order_id: order.order_id })).data;
  out(`   card ${card.card_id}: ${card.status}, ${card.currency}, product ${card.product_code}`);
  out(`   number ${maskPan(card.pan)}  (masked; the full number, CVV and expiry arrived encrypted and are not shown)`);

  // The card operations: each an order of its own, followed to its end like the issue.
  const operations: { title: string; call: () => Promise<{ data: PartnerOrder }> }[] = [
    { title: `4. top up: ${options.topUp} USD from the master balance onto the card`, call: () => client.topUp({ card_id: card.card_id, amount: options.topUp, currency: card.currency }, { idempotencyKey: randomUUID() }) },
    { title: '5. freeze: the card', call: () => client.freeze({ card_id: card.card_id }, { idempotencyKey: randomUUID() }) },
    { title: '6. unfreeze: the card', call: () => client.unfreeze({ card_id: card.card_id }, { idempotencyKey: randomUUID() }) },
  ];
  for (const operation of operations) {
    out(operation.title);
    let opOrder: CardIssueOrder;
    try {
      opOrder = (await operation.call()).data;
    } catch (err) {
      if (err instanceof GatewayApiError) {
        out(`   refused: ${err.slug}${err.order_id ? ` (order ${err.order_id})` : ''}: ${err.message}`);
        return EXIT.failed;
      }
      throw err;
    }
    orderIds.push(opOrder.order_id);
    out(`   order ${opOrder.order_id} (${opOrder.order_type}): ${opOrder.status}`);
    opOrder = await follow(client, opOrder, options.timeoutMs);
    if (opOrder.status !== 'completed') return EXIT.failed;
    const listed = (await client.listCards({ limit: 100 })).data.cards.find((c) => c.card_id === card.card_id);
    out(`   card ${card.card_id}: ${listed?.status ?? '?'}, balance ${listed?.balance ?? 'unknown'} ${card.currency}`);
  }

  out('7. list: the newest cards of the project');
  for (const listed of (await client.listCards({ limit: 3 })).data.cards) {
    out(`   ${listed.created_at}  ${listed.card_id}  ${listed.status}  ${listed.masked_pan}  balance ${listed.balance ?? 'unknown'} ${listed.currency}`);
  }
  out('8. list: the newest orders of the project');
  for (const listed of (await client.listOrders({ limit: 5 })).data.orders) {
    out(`   ${listed.created_at}  ${listed.order_id}  ${listed.order_type}  ${listed.status}${listed.refunds.length > 0 ? `  refunded ${listed.refunded_amount}` : ''}`);
  }
  const { data: balance } = await client.balance({ limit: 3 });
  out(`9. balance: ${balance.balance} ${balance.currency} after ledger entry ${balance.balance_seq}; the latest entries:`);
  for (const entry of balance.entries) out(`   #${entry.seq}  ${entry.kind}  ${entry.amount}  -> ${entry.balance_after}  (order ${entry.order_id})`);

  const subjects = new Set([...orderIds, card.card_id]);
  if (!webhooks) {
    out('10. events: none (no webhook endpoint was registered)');
  } else {
    out(`10. events: waiting for the final event of each of the ${orderIds.length} orders (at most ${options.eventsTimeoutMs / 1000} s)`);
    const finalOf = (id: string) => receiver.events.some((e) => e.subject.id === id && (e.type === 'order.completed' || e.type === 'order.failed'));
    const deadline = Date.now() + options.eventsTimeoutMs;
    while (!orderIds.every(finalOf) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const ours = receiver.events.filter((e) => subjects.has(e.subject.id));
    for (const event of ours) out(`   ${event.type}  ${event.subject.type} ${event.subject.id}  ${event.id}`);
    const others = receiver.events.length - ours.length;
    if (others > 0) out(`   (and ${others} event(s) of other orders of the project)`);
    if (receiver.unreadable > 0) out(`   ${receiver.unreadable} delivery(ies) could not be opened`);
    const missing = orderIds.filter((id) => !finalOf(id));
    if (missing.length > 0) {
      out(`   gave up waiting for the events of ${missing.join(', ')}`);
      return EXIT.failed;
    }
  }
  return EXIT.ok;
}

/** Polls an order until it ends or the time is up, printing each state it passes; prints why it did not complete. */
async function follow(client: PartnerClient, first: CardIssueOrder, timeoutMs: number): Promise<CardIssueOrder> {
  let order = first;
  const deadline = Date.now() + timeoutMs;
  let seen = '';
  while (order.status !== 'completed' && order.status !== 'failed') {
    if (Date.now() > deadline) {
      out(`   gave up after ${timeoutMs / 1000} s: still ${order.status}/${order.issue_status ?? ''}`);
      return order;
    }
    await new Promise((r) => setTimeout(r, 300));
    order = (await client.checkOrder({ order_id: order.order_id })).data;
    const state = `${order.status}${order.issue_status ? ` / ${order.issue_status}` : ''}`;
    if (state !== seen) out(`   ${state}`);
    seen = state;
  }
  if (order.status === 'failed') out(`   failed: ${order.last_error_slug ?? ''}: ${order.last_error ?? ''}`);
  return order;
}

interface Receiver {
  url: string;
  /** Opened events in the order they arrived (a redelivery of one id is kept once). */
  events: WebhookEvent[];
  /** Deliveries openEvent refused (answered 400). */
  unreadable: number;
  close(): Promise<void>;
}

/** The partner's side of webhooks, in miniature: a local HTTP endpoint that opens each delivery with openEvent. */
async function startReceiver(client: PartnerClient): Promise<Receiver> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      client.openEvent(Buffer.concat(chunks), req.headers).then(
        (event) => {
          if (!receiver.events.some((e) => e.id === event.id)) receiver.events.push(event);
          res.writeHead(204).end();
        },
        (err: unknown) => {
          receiver.unreadable++;
          res.writeHead(err instanceof WebhookEventError ? 400 : 500).end();
        },
      );
    });
  });
  const receiver: Receiver = { url: '', events: [], unreadable: 0, close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // The gateway's dispatcher keeps its connections alive; they would hold close() open.
        server.closeAllConnections();
      }),
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`;
  return receiver;
}

/**
 * Registers the receiver as the project's webhook endpoint through the admin API (PUT
 * /admin/v1/projects/{id}/webhook). A loopback URL is accepted only where
 * WEBHOOK_ALLOW_PRIVATE_URLS holds, which development allows by default. Returns how to disable it
 * again, or undefined (and says why) when it cannot: the demo then runs without events.
 */
async function registerReceiver(config: Config, baseUrl: string, projectId: string, receiver: Receiver): Promise<{ disable(): Promise<void> } | undefined> {
  const adminUrl = process.env.ADMIN_URL || (config.ADMIN_PORT !== undefined ? `http://${config.ADMIN_HOST}:${config.ADMIN_PORT}` : baseUrl);
  const token = process.env.STAFF_TOKEN || (await readFile(devStaffTokenFile(config), 'utf8').catch(() => '')).trim();
  if (!token) {
    out(`0. webhooks: skipped, no staff token (set STAFF_TOKEN, or start the development gateway, which writes ${devStaffTokenFile(config)})`);
    return undefined;
  }
  const webhook = `${adminUrl}/admin/v1/projects/${encodeURIComponent(projectId)}/webhook`;
  const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  const res = await fetch(webhook, { method: 'PUT', headers, body: JSON.stringify({ url: receiver.url }) });
  if (!res.ok) {
    const error = ((await res.json().catch(() => ({}))) as { error?: { slug?: string; message?: string } }).error;
    out(`0. webhooks: skipped, the admin API refused the endpoint (${res.status} ${error?.slug ?? ''}: ${error?.message ?? ''})`);
    return undefined;
  }
  out(`0. webhooks: receiver ${receiver.url} registered as the project's endpoint`);
  return {
    disable: async () => {
      const disabled = await fetch(`${webhook}/disable`, { method: 'POST', headers });
      out(disabled.ok ? "   the project's webhook endpoint is disabled again (the receiver stops with the demo)" : `   could not disable the webhook endpoint (${disabled.status})`);
    },
  };
}

runScript(main, USAGE);
