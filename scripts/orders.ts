/**
 * Support staff's order lookup from the command line: the same queries as GET /admin/v1/orders.
 *   npm run orders -- find --slug provider_declined --from 2026-01-01T00:00:00Z
 */
import { OrderLookup, type OrderFilter, type StaffOrderView } from '../src/back-office/order-lookup.js';
import { textTable } from '../src/back-office/text-table.js';
import { SLUGS } from '../src/errors/slugs.js';
import { parseArgs } from 'node:util';
import { EXIT, UsageError, openStore, out, parseCommandLine, printJson, runScript } from './lib/cli.js';

const USAGE = `Usage: npm run orders -- <command> [options]

Commands:
  find      List orders matching the filters, newest first, with counts per error slug.
  counts    Only the counts per error slug for the filters.
  show ID   One order in full.
  slugs     Every error slug with its HTTP status and meaning.

Filters (find, counts):
  --status S            new | activating | processing | completed | failed
  --slug SLUG           last_error_slug, e.g. provider_declined
  --project ID          project_id
  --user ID             external_user_id (needs --project)
  --external-id ID      the partner's external_id (needs --project)
  --type T              card_issue | balance_deposit
  --card ID             card_id
  --key KEY             the request's Idempotency-Key (needs --project)
  --issue-status S      issue_status, e.g. initial_topup_error
  --from ISO            created at or after, e.g. 2026-01-01T00:00:00Z
  --to ISO              created before
Paging (find):
  --limit N             orders per page (1-500, default 50)
  --cursor C            continue after a previous page (printed at its end)
  --all                 follow the cursor to the last page
Output:
  --json                JSON for other programs
  -h, --help            this help

Exit codes: 0 done, 2 bad arguments, 3 order not found, 5 store unreachable, 1 anything else.`;

const OPTIONS = {
  status: { type: 'string' },
  slug: { type: 'string' },
  project: { type: 'string' },
  user: { type: 'string' },
  'external-id': { type: 'string' },
  type: { type: 'string' },
  card: { type: 'string' },
  key: { type: 'string' },
  'issue-status': { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  all: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function main(): Promise<number> {
  const { values, positionals } = parseCommandLine(() => parseArgs({ args: process.argv.slice(2), options: OPTIONS, allowPositionals: true, strict: true }));
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    out(USAGE);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  if (command === 'slugs') {
    const rows = Object.entries(SLUGS).map(([slug, s]) => ({ slug, status: s.status, message: s.message }));
    if (values.json) printJson(rows);
    else textTable(['slug', 'HTTP', 'meaning'], rows.map((r) => [r.slug, String(r.status), r.message]), [false, true, false]).forEach((l) => out(l));
    return EXIT.ok;
  }
  if (!['find', 'counts', 'show'].includes(command)) throw new UsageError(`unknown command "${command}"`);
  if (command === 'show' && rest.length !== 1) throw new UsageError('show takes one order id');
  if (command !== 'show' && rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);

  const filterInput = Object.fromEntries(
    Object.entries({
      status: values.status,
      last_error_slug: values.slug,
      project_id: values.project,
      external_user_id: values.user,
      external_id: values['external-id'],
      order_type: values.type,
      card_id: values.card,
      idempotency_key: values.key,
      issue_status: values['issue-status'],
      from: values.from,
      to: values.to,
    }).filter(([, v]) => v !== undefined),
  );
  const filter: OrderFilter = OrderLookup.parseFilter(filterInput);

  const store = await openStore();
  try {
    const lookup = new OrderLookup(store.connection);
    if (command === 'show') {
      const order = await lookup.get(rest[0]!);
      if (values.json) printJson(order);
      else for (const [k, v] of Object.entries(order)) out(`${k.padEnd(21)} ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`);
      return EXIT.ok;
    }
    const counts = await lookup.countBySlug(filter);
    if (command === 'counts') {
      if (values.json) printJson(counts);
      else printCounts(counts.total, counts.by_slug);
      return EXIT.ok;
    }

    const limit = values.limit === undefined ? undefined : Number(values.limit);
    const orders: StaffOrderView[] = [];
    let cursor = values.cursor;
    let next: string | null;
    do {
      const page = await lookup.find(filter, { ...(limit !== undefined && { limit }), ...(cursor !== undefined && { cursor }) });
      orders.push(...page.orders);
      next = page.next_cursor;
      cursor = next ?? undefined;
    } while (values.all && next);

    if (values.json) {
      printJson({ orders, next_cursor: next, counts });
      return EXIT.ok;
    }
    if (orders.length === 0) out('No orders match.');
    else {
      const rows = orders.map((o) => [
        o.created_at,
        o.order_id,
        o.project_id,
        o.status,
        o.last_error_slug ?? '',
        text(o.data.total_charge ?? o.data.amount),
        text(o.data.external_user_id),
        o.external_id ?? '',
      ]);
      textTable(['created_at', 'order_id', 'project', 'status', 'slug', 'amount', 'external_user_id', 'external_id'], rows, [false, false, false, false, false, true]).forEach((l) => out(l));
    }
    out();
    printCounts(counts.total, counts.by_slug);
    if (next) out(`\nMore: add --cursor ${next}  (or --all)`);
    return EXIT.ok;
  } finally {
    await store.close();
  }
}

function text(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

function printCounts(total: number, bySlug: { slug: string | null; count: number }[]): void {
  out(`${total} matching order(s)${bySlug.length > 0 ? ' by error slug:' : '.'}`);
  for (const g of bySlug) out(`  ${(g.slug ?? '(no error)').padEnd(28)} ${String(g.count).padStart(8)}`);
}

runScript(main, USAGE);
