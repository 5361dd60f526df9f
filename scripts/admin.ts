/**
 * Administration from the command line: the same services (and the same audit log) as the admin
 * API. Works whether or not a gateway runs.
 *   npm run admin -- projects create --name "Acme" --currency EUR
 *   npm run admin -- fund prj_… --amount 1000.00 --reason "January float"
 */
import { parseArgs } from 'node:util';
import { createBackOffice, type BackOffice } from '../src/back-office/back-office.js';
import { webhookAdminOptions } from '../src/webhooks/webhooks-feature.js';
import type { Actor } from '../src/back-office/audit-log.js';
import { textTable } from '../src/back-office/text-table.js';
import { STAFF_CARD_ACTIONS, type StaffCardAction } from '../src/card-ops/card-ops-admin.js';
import { TERMINAL_STATUSES } from '../src/orders/order-model.js';
import { openScriptCardOps } from './lib/card-ops.js';
import { EXIT, UsageError, cliActor, jsonArgument, openStore, out, parseCommandLine, printJson, runScript, type StoreContext } from './lib/cli.js';

const USAGE = `Usage: npm run admin -- <command> [arguments] [options]

Projects
  projects list
  projects show PROJECT
  projects create --name NAME [--currency USD] [--id prj_…]
  projects disable PROJECT
  projects enable PROJECT
Keys (the project's public JWKs; private keys are refused)
  keys add PROJECT --use signing|encryption --alg ALG --jwk JSON|@file.json [--kid KID]
        signing: ES256 (P-256), EdDSA (Ed25519), PS256/RS256 (RSA >= 2048)
        encryption: RSA-OAEP-256 (RSA >= 2048), ECDH-ES+A256KW (P-256)
  keys retire PROJECT --use signing|encryption --kid KID [--force]
Master balance
  fund PROJECT --amount 1000.00 --reason TEXT [--idempotency-key KEY]
        Repeating it with the same key never funds twice (the key is printed; default: generated).
Products
  products list
  products show CODE
  products create --code CODE --product-id N --name NAME --currency CUR --fee 1.00 --min 0 --max 500.00
                  [--limit-per-transaction A] [--limit-daily A] [--limit-monthly A] [--inactive]
  products update CODE [--name NAME] [--fee A] [--min A] [--max A] [--limit-… A]
  products deactivate CODE
  products activate CODE
Cardholders
  cardholders list PROJECT
  cardholders create PROJECT --user EXTERNAL_USER_ID [--first-name N] [--last-name N] [--status pending|verified|rejected]
  cardholders set-status PROJECT EXTERNAL_USER_ID --status pending|verified|rejected
Webhooks (one endpoint per project; outside production http and private addresses are allowed)
  webhook set PROJECT --url URL
  webhook show PROJECT
  webhook disable PROJECT
  webhook events PROJECT [--status pending|delivered|failed] [--limit N] [--cursor C]
  webhook event PROJECT EVENT_ID        the event and every delivery attempt
  webhook redeliver PROJECT EVENT_ID
Cards (the same card_freeze / card_unfreeze / card_terminate orders a partner makes; created_by staff:<you>)
  cards freeze CARD --reason TEXT --idempotency-key KEY [--wait-s 30]
  cards unfreeze CARD --reason TEXT --idempotency-key KEY [--wait-s 30]
  cards terminate CARD --reason TEXT --idempotency-key KEY [--wait-s 30]
        Calls the card provider and waits for the order to end (at most --wait-s); repeating it
        with the same key never asks twice. Exit 1 when the order failed or is still running.
Stuck orders (docs/back-office.md, "Repairing stuck orders")
  orders retry ORDER [--reason TEXT]     due now with its attempts reset; the worker takes it again
  orders fail ORDER --reason TEXT        fail it (through the workflow's fence) and refund what is owed, once
  orders refund ORDER --reason TEXT      the missing refund of a failed order, once
Audit log
  audit [--target project:prj_…] [--staff NAME] [--limit N]

Options for every command
  --as NAME    who you are, for the audit log (default: cli:<your user name>)
  --json       JSON for other programs
  -h, --help   this help

Exit codes: 0 done, 2 bad arguments or input, 3 not found, 4 conflict (exists already, key reused),
5 store unreachable, 1 anything else.`;

const OPTIONS = {
  as: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  name: { type: 'string' },
  currency: { type: 'string' },
  id: { type: 'string' },
  use: { type: 'string' },
  alg: { type: 'string' },
  jwk: { type: 'string' },
  kid: { type: 'string' },
  force: { type: 'boolean' },
  amount: { type: 'string' },
  reason: { type: 'string' },
  'idempotency-key': { type: 'string' },
  code: { type: 'string' },
  'product-id': { type: 'string' },
  fee: { type: 'string' },
  min: { type: 'string' },
  max: { type: 'string' },
  'limit-per-transaction': { type: 'string' },
  'limit-daily': { type: 'string' },
  'limit-monthly': { type: 'string' },
  inactive: { type: 'boolean' },
  user: { type: 'string' },
  'first-name': { type: 'string' },
  'last-name': { type: 'string' },
  status: { type: 'string' },
  target: { type: 'string' },
  staff: { type: 'string' },
  limit: { type: 'string' },
  url: { type: 'string' },
  cursor: { type: 'string' },
  'wait-s': { type: 'string' },
} as const;

type Values = ReturnType<typeof parseAll>['values'];

function parseAll(args: string[]) {
  return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
}

interface Call {
  values: Values;
  args: string[];
  actor: Actor;
  bo: BackOffice;
  store: StoreContext;
  /** The exit code when the command did its part but the outcome is not a success (default 0). */
  exit: { code: number };
}

/** cards freeze|unfreeze|terminate: the order is made, driven to its end (bounded), and shown as it then stands. */
async function changeCard(c: Call, action: StaffCardAction): Promise<unknown> {
  const cardId = arg(c, 0, 'CARD');
  const key = c.values['idempotency-key'];
  if (!key) throw new UsageError('--idempotency-key is required (repeating the command with the same key never asks twice)');
  const waitS = Number(c.values['wait-s'] ?? 30);
  if (!Number.isFinite(waitS) || waitS < 0) throw new UsageError('--wait-s must be a number of seconds');
  const ops = await openScriptCardOps(c.store, c.bo.audit);
  try {
    const { order, replayed } = await ops.staff.change(c.actor, action, cardId, defined({ reason: c.values.reason }), key);
    const ended = await ops.drive(order.order_id, waitS * 1000);
    if (ended.status !== 'completed') c.exit.code = EXIT.failed;
    const view = await c.bo.orders.get(order.order_id);
    return { replayed, idempotency_key: key, still_running: !TERMINAL_STATUSES.includes(ended.status), ...view };
  } finally {
    await ops.close();
  }
}

/** Drops unset flags so the services' schemas see only what was given. */
function defined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

function arg(call: Call, index: number, what: string): string {
  const value = call.args[index];
  if (!value) throw new UsageError(`missing ${what}`);
  return value;
}

function keyUse(value: string | undefined): 'signing' | 'encryption' {
  if (value !== 'signing' && value !== 'encryption') throw new UsageError('--use must be signing or encryption');
  return value;
}

function limits(v: Values): Record<string, string> | undefined {
  const l = defined({ per_transaction: v['limit-per-transaction'], daily: v['limit-daily'], monthly: v['limit-monthly'] });
  return Object.keys(l).length > 0 ? (l as Record<string, string>) : undefined;
}

function productFields(v: Values): Record<string, unknown> {
  return defined({ name: v.name, issue_fee: v.fee, initial_balance_min: v.min, initial_balance_max: v.max, limits: limits(v) });
}

/** Each command returns what it shows: an object (printed as fields) or a list of rows. */
const COMMANDS: Record<string, (call: Call) => Promise<unknown>> = {
  'projects list': ({ bo }) => bo.projects.list(),
  'projects show': (c) => c.bo.projects.get(arg(c, 0, 'PROJECT')),
  'projects create': (c) => c.bo.projects.create(c.actor, defined({ name: c.values.name, currency: c.values.currency, project_id: c.values.id })),
  'projects disable': (c) => c.bo.projects.setStatus(c.actor, arg(c, 0, 'PROJECT'), 'disabled'),
  'projects enable': (c) => c.bo.projects.setStatus(c.actor, arg(c, 0, 'PROJECT'), 'active'),
  'keys add': async (c) => {
    if (!c.values.jwk) throw new UsageError('--jwk is required');
    const jwk = await jsonArgument(c.values.jwk, '--jwk');
    return c.bo.projects.addKey(c.actor, arg(c, 0, 'PROJECT'), keyUse(c.values.use), defined({ alg: c.values.alg, jwk, kid: c.values.kid }));
  },
  'keys retire': (c) => {
    if (!c.values.kid) throw new UsageError('--kid is required');
    return c.bo.projects.retireKey(c.actor, arg(c, 0, 'PROJECT'), keyUse(c.values.use), c.values.kid, c.values.force ?? false);
  },
  fund: async (c) => {
    const result = await c.bo.funding.fund(
      c.actor,
      arg(c, 0, 'PROJECT'),
      defined({ amount: c.values.amount, reason: c.values.reason, idempotency_key: c.values['idempotency-key'] }),
    );
    return { replayed: result.replayed, idempotency_key: result.idempotency_key, ...result.order };
  },
  'products list': ({ bo }) => bo.products.list(),
  'products show': (c) => c.bo.products.get(arg(c, 0, 'CODE')),
  'products create': (c) => {
    const productId = c.values['product-id'];
    return c.bo.products.create(
      c.actor,
      defined({
        product_code: c.values.code,
        product_id: productId === undefined ? undefined : Number(productId),
        currency: c.values.currency,
        active: c.values.inactive ? false : undefined,
        ...productFields(c.values),
      }),
    );
  },
  'products update': (c) => c.bo.products.update(c.actor, arg(c, 0, 'CODE'), productFields(c.values)),
  'products deactivate': (c) => c.bo.products.update(c.actor, arg(c, 0, 'CODE'), { active: false }),
  'products activate': (c) => c.bo.products.update(c.actor, arg(c, 0, 'CODE'), { active: true }),
  'cardholders list': (c) => c.bo.cardholders.list(arg(c, 0, 'PROJECT')),
  'cardholders create': (c) =>
    c.bo.cardholders.create(
      c.actor,
      arg(c, 0, 'PROJECT'),
      defined({ external_user_id: c.values.user, first_name: c.values['first-name'], last_name: c.values['last-name'], verification_status: c.values.status }),
    ),
  'cardholders set-status': (c) =>
    c.bo.cardholders.setVerification(c.actor, arg(c, 0, 'PROJECT'), arg(c, 1, 'EXTERNAL_USER_ID'), defined({ verification_status: c.values.status })),
  'webhook set': (c) => c.bo.webhooks.setEndpoint(c.actor, arg(c, 0, 'PROJECT'), defined({ url: c.values.url })),
  'webhook show': (c) => c.bo.webhooks.getEndpoint(arg(c, 0, 'PROJECT')),
  'webhook disable': (c) => c.bo.webhooks.disableEndpoint(c.actor, arg(c, 0, 'PROJECT')),
  'webhook events': async (c) => {
    const page = await c.bo.webhooks.listEvents(arg(c, 0, 'PROJECT'), defined({ status: c.values.status, limit: c.values.limit, cursor: c.values.cursor }));
    if (c.values.json) return page;
    return page.events.map((e) => ({ created_at: e.event.created_at, event_id: e.event.id, type: e.event.type, subject: e.event.subject.id, status: e.status, attempts: e.attempts, last_error: e.last_error }));
  },
  'webhook event': (c) => c.bo.webhooks.getEvent(arg(c, 0, 'PROJECT'), arg(c, 1, 'EVENT_ID')),
  'webhook redeliver': (c) => c.bo.webhooks.redeliver(c.actor, arg(c, 0, 'PROJECT'), arg(c, 1, 'EVENT_ID')),
  ...Object.fromEntries((Object.keys(STAFF_CARD_ACTIONS) as StaffCardAction[]).map((action) => [`cards ${action}`, (c: Call) => changeCard(c, action)])),
  'orders retry': (c) => c.bo.repair.retry(c.actor, arg(c, 0, 'ORDER'), defined({ reason: c.values.reason })),
  'orders fail': (c) => c.bo.repair.fail(c.actor, arg(c, 0, 'ORDER'), defined({ reason: c.values.reason })),
  'orders refund': (c) => c.bo.repair.refund(c.actor, arg(c, 0, 'ORDER'), defined({ reason: c.values.reason })),
  audit: async (c) => {
    const limit = c.values.limit === undefined ? undefined : Number(c.values.limit);
    const entries = await c.bo.audit.list(defined({ target: c.values.target, staff: c.values.staff, limit }));
    return entries.map((e) => ({
      created_at: e.created_at.toISOString(),
      staff: e.staff,
      via: e.via,
      action: e.action,
      target: e.target,
      outcome: e.outcome,
      summary: JSON.stringify(e.summary),
      request_id: e.request_id,
    }));
  },
};

async function main(): Promise<number> {
  const { values, positionals } = parseCommandLine(() => parseAll(process.argv.slice(2)));
  if (values.help || positionals.length === 0) {
    out(USAGE);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  const two = positionals.slice(0, 2).join(' ');
  const [name, args] = COMMANDS[two] ? [two, positionals.slice(2)] : [positionals[0]!, positionals.slice(1)];
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${two}"`);

  const store = await openStore({ writes: true });
  try {
    const exit = { code: EXIT.ok as number };
    const result = await command({ values, args, actor: cliActor(values.as), bo: createBackOffice(store.connection, webhookAdminOptions(store.config)), store, exit });
    if (values.json) printJson(result);
    else show(result);
    return exit.code;
  } finally {
    await store.close();
  }
}

function show(result: unknown): void {
  if (Array.isArray(result)) {
    if (result.length === 0) return out('(none)');
    const rows = result as Record<string, unknown>[];
    const columns = Object.keys(rows[0]!).filter((k) => rows.every((r) => typeof r[k] !== 'object' || r[k] === null));
    textTable(columns, rows.map((r) => columns.map((k) => cell(r[k])))).forEach((l) => out(l));
    return;
  }
  for (const [key, value] of Object.entries(result as Record<string, unknown>)) out(`${key.padEnd(22)} ${cell(value)}`);
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value) && value.every((v) => typeof v === 'object' && v !== null && 'kid' in v)) {
    return value.map((k: { kid: string; alg: string; status: string }) => `${k.kid} (${k.alg}, ${k.status})`).join('; ') || '(none)';
  }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

runScript(main, USAGE);
