#!/usr/bin/env node
/**
 * The partner API from the command line, on top of the typed client: it signs, encrypts, sends,
 * then decrypts and verifies the answer. Prints the answer as JSON; exit code 1 for an error answer
 * (its slug on stderr), 2 for a usage error, 3 when the answer could not be trusted or reached.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { GatewayApiError, GatewayResponseError, PartnerClient, WaitTimeoutError } from '../index.js';
import { KeyFolderError, defaultKeysDir, loadKeyFolder } from '../key-folder.js';

const HELP = `Usage: card-gateway-partner <command> [options]
       (in the gateway's repository: npm run partner -- <command> [options])

Commands:
  create         POST /api/v1/cards/create   (an Idempotency-Key is generated unless given)
  check          POST /api/v1/orders/check
  get            POST /api/v1/cards/get
  topup          POST /api/v1/cards/topup        (Idempotency-Key generated unless given)
  withdraw       POST /api/v1/cards/withdraw     (same)
  freeze         POST /api/v1/cards/freeze       (same)
  unfreeze       POST /api/v1/cards/unfreeze     (same)
  terminate      POST /api/v1/cards/terminate    (same)
  holder-create  POST /api/v1/cardholders/create
  holder-get     POST /api/v1/cardholders/get
  call PATH      POST any partner endpoint

Options:
  --url URL               gateway base URL (env GATEWAY_URL, or PARTNER_GATEWAY_URL; default http://127.0.0.1:8080)
  --project ID            project id (env PARTNER_PROJECT_ID)
  --keys DIR              folder made by card-gateway-keygen, with signing.private.jwk.json and
                          encryption.private.jwk.json (env PARTNER_KEYS_DIR; default
                          ${defaultKeysDir({})})
  --body JSON|@FILE       the request body, inline or from a file (default {})
  --idempotency-key KEY   the Idempotency-Key (create and the card operations: generated and printed when absent)
  --audience AUD          the gateway's audience (default card-gateway)
  --request-id ID         sent as X-Request-Id
  --wait                  when the answer is an order (create, check, the card operations): read it
                          again until it has ended (completed or failed; at most --wait-s) and
                          print it as it ended
  --wait-s N              how long --wait waits (default 60)
  --help                  show this help

Examples:
  card-gateway-partner create --project prj_123 --body '{"product_code":"DEMO_VIRTUAL_USD","external_user_id":"u-1"}'
  card-gateway-partner check --project prj_123 --body '{"order_id":"ord_..."}'
  card-gateway-partner topup --project prj_123 --body '{"card_id":"card_...","amount":"10.00","currency":"USD"}'
`;

function usage(message: string): never {
  process.stderr.write(`partner-cli: ${message}\n(see --help)\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        project: { type: 'string' },
        keys: { type: 'string' },
        body: { type: 'string' },
        'idempotency-key': { type: 'string' },
        audience: { type: 'string' },
        'request-id': { type: 'string' },
        wait: { type: 'boolean', default: false },
        'wait-s': { type: 'string', default: '60' },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const [command, pathArg] = positionals;
  const paths: Record<string, string> = {
    create: '/api/v1/cards/create',
    check: '/api/v1/orders/check',
    get: '/api/v1/cards/get',
    topup: '/api/v1/cards/topup',
    withdraw: '/api/v1/cards/withdraw',
    freeze: '/api/v1/cards/freeze',
    unfreeze: '/api/v1/cards/unfreeze',
    terminate: '/api/v1/cards/terminate',
    'holder-create': '/api/v1/cardholders/create',
    'holder-get': '/api/v1/cardholders/get',
  };
  // The endpoints that create orders: each needs a key, so one is made (and printed) when absent.
  const keyed = new Set(['create', 'topup', 'withdraw', 'freeze', 'unfreeze', 'terminate']);
  const endpoint = command === 'call' ? pathArg : command && Object.hasOwn(paths, command) ? paths[command] : undefined;
  if (!endpoint) usage(command === 'call' ? 'call needs a PATH' : `unknown command ${command ?? '(none)'}`);
  if (!endpoint.startsWith('/')) usage('PATH must start with /');

  const projectId = values.project ?? process.env.PARTNER_PROJECT_ID;
  if (!projectId) usage('--project (or PARTNER_PROJECT_ID) is required');
  let keys;
  try {
    keys = await loadKeyFolder(values.keys === undefined ? defaultKeysDir() : path.resolve(values.keys));
  } catch (err) {
    if (err instanceof KeyFolderError) usage(err.message);
    throw err;
  }

  let body: unknown = {};
  if (values.body !== undefined) {
    const file = values.body.startsWith('@') ? values.body.slice(1) : undefined;
    const text = file === undefined ? values.body : await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => usage(`cannot read ${file} (${err.code ?? 'unreadable'})`));
    try {
      body = JSON.parse(text);
    } catch {
      usage('--body is not valid JSON');
    }
  }
  const waitS = Number(values['wait-s']);
  if (!Number.isFinite(waitS) || waitS <= 0) usage('--wait-s must be a positive number of seconds');
  let idempotencyKey = values['idempotency-key'];
  if (command && keyed.has(command)) idempotencyKey ??= randomUUID();

  const client = new PartnerClient({
    baseUrl: values.url ?? (process.env.GATEWAY_URL || process.env.PARTNER_GATEWAY_URL || 'http://127.0.0.1:8080'),
    projectId,
    audience: values.audience,
    ...keys,
  });

  try {
    const res = await client.call<Record<string, unknown>>(endpoint, body, { idempotencyKey, requestId: values['request-id'] });
    const orderId = res.data.order_id;
    const isOrder = typeof orderId === 'string' && typeof res.data.order_type === 'string';
    const ended = values.wait && isOrder ? (await client.waitForOrder({ order_id: orderId }, { timeoutMs: waitS * 1000 })).data : undefined;
    const out = {
      status: res.status,
      request_id: res.requestId,
      ...(idempotencyKey === undefined ? {} : { idempotency_key: idempotencyKey, idempotent_replayed: res.idempotentReplayed }),
      data: ended ?? res.data,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } catch (err) {
    if (err instanceof GatewayApiError) {
      // The key too: a refused order is stored under it, and a retry with it answers the same.
      const out = { status: err.status, slug: err.slug, message: err.message, request_id: err.request_id, order_id: err.order_id, idempotency_key: idempotencyKey, sealed: err.sealed, issues: err.issues };
      process.stderr.write(`${JSON.stringify(out, null, 2)}\n`);
      process.exit(1);
    }
    if (err instanceof WaitTimeoutError) {
      process.stderr.write(`partner-cli: ${err.message}; the order goes on (check it later)\n`);
      process.exit(1);
    }
    if (err instanceof GatewayResponseError || err instanceof TypeError) {
      process.stderr.write(`partner-cli: ${err.message}\n`);
      process.exit(3);
    }
    throw err;
  }
}

await main();
