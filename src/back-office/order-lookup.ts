import type { Connection, Model } from 'mongoose';
import { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.js';
import { isSlug, SLUGS } from '../errors/slugs.js';
import { currencyExponent } from '../money/money.js';
import { orderModel, ORDER_TYPES, type IssueStatus, type Order } from '../orders/order-model.js';
import { toOrderView, type OrderView } from '../orders/order-view.js';
import { projectModel, type Project } from '../projects/project-model.js';
import { parseInput, notFound } from './validate.js';

/**
 * Support staff's order lookup (contract section 5): filters, newest first, cursor paging, and
 * counts per error slug for the same filter. Used by the admin API and `npm run orders`.
 *
 * Paging is by a keyset cursor on (created_at, _id), not by skip: a page costs the same at
 * row 10 and at row 10 million, and orders inserted meanwhile never shift or repeat a page.
 * Every filter has an index of the form (equality fields..., created_at -1, _id -1) in
 * order-model.ts, so the sort and the cursor bound are walked on the index.
 */

const STATUSES = ['new', 'activating', 'processing', 'completed', 'failed'] as const;
const ISSUE_STATUSES = [
  'card_create_pending',
  'card_create_done',
  'card_create_error',
  'initial_topup_pending',
  'initial_topup_in_progress',
  'initial_topup_error',
  'initial_topup_done',
  'initial_topup_verify_error',
  'initial_topup_skipped',
  'completed',
] as const satisfies readonly IssueStatus[];
const isoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

export const orderFilterSchema = z
  .object({
    status: z.enum(STATUSES).optional(),
    last_error_slug: z.string().refine(isSlug, 'is not a known slug (see the slug list)').optional(),
    project_id: z.string().min(1).max(100).optional(),
    external_user_id: z.string().min(1).max(200).optional(),
    external_id: z.string().min(1).max(200).optional(),
    order_type: z.enum(ORDER_TYPES).optional(),
    card_id: z.string().min(1).max(100).optional(),
    /** The partner's Idempotency-Key of the request that made the order. */
    idempotency_key: z.string().min(1).max(200).optional(),
    issue_status: z.enum(ISSUE_STATUSES).optional(),
    /** created_at >= from */
    from: isoDate.optional(),
    /** created_at < to */
    to: isoDate.optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    // A partner's user and reference ids are only unique inside its project, and the indexes that
    // serve them lead with project_id.
    for (const field of ['external_user_id', 'external_id', 'idempotency_key'] as const) {
      if (f[field] && !f.project_id) ctx.addIssue({ code: 'custom', path: [field], message: 'needs project_id as well' });
    }
    if (f.from && f.to && f.from >= f.to) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
  });

export type OrderFilter = z.infer<typeof orderFilterSchema>;

export const pageSchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().max(200).optional(),
  })
  .strict();

/** The partner's view of an order plus what staff need beside it: whose order it is, and who asked for it when not the partner. */
export type StaffOrderView = OrderView & { project_id: string; created_by: string | null };

export function toStaffOrderView(order: Order, exponent: number): StaffOrderView {
  return { project_id: order.project_id, created_by: order.created_by ?? null, ...toOrderView(order, exponent) };
}

export interface OrderPage {
  orders: StaffOrderView[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}

export interface SlugCounts {
  total: number;
  /** Orders without a slug are counted under `null`. Largest first. */
  by_slug: { slug: string | null; count: number }[];
}

type OrderQuery = Record<string, unknown> & { $and?: Record<string, unknown>[] };

interface Cursor {
  createdAt: Date;
  id: string;
}

export function encodeCursor(order: Pick<Order, 'created_at' | '_id'>): string {
  return Buffer.from(JSON.stringify([order.created_at.getTime(), order._id])).toString('base64url');
}

function decodeCursor(cursor: string): Cursor {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && Number.isSafeInteger(parsed[0]) && typeof parsed[1] === 'string') {
      const createdAt = new Date(parsed[0] as number);
      // Outside the Date range (|ms| > 8.64e15) the date is invalid and the store query would throw.
      if (!Number.isNaN(createdAt.getTime())) return { createdAt, id: parsed[1] };
    }
  } catch {
    // fall through
  }
  throw new GatewayError('validation_error', undefined, { issues: [{ path: 'cursor', message: 'is not a cursor this lookup returned' }] });
}

/**
 * The keyset bound "strictly after the cursor" in (created_at desc, _id desc) order, for any
 * collection paged like the order lookup. The plain created_at bound beside the $or gives the
 * index scan a range to start from.
 */
export function afterCursor(cursor: string): Record<string, unknown>[] {
  const c = decodeCursor(cursor);
  return [{ created_at: { $lte: c.createdAt } }, { $or: [{ created_at: { $lt: c.createdAt } }, { created_at: c.createdAt, _id: { $lt: c.id } }] }];
}

export class OrderLookup {
  private readonly orders: Model<Order>;
  private readonly projects: Model<Project>;

  constructor(connection: Connection) {
    this.orders = orderModel(connection);
    this.projects = projectModel(connection);
  }

  /** Validates raw filter input (query string or flags); unknown keys are refused. */
  static parseFilter(input: unknown): OrderFilter {
    return parseInput(orderFilterSchema, input);
  }

  async find(filter: OrderFilter, page: { limit?: number; cursor?: string } = {}): Promise<OrderPage> {
    const { limit, cursor } = parseInput(pageSchema, page);
    const query = this.query(filter);
    if (cursor) query.$and = afterCursor(cursor);
    const rows = await this.orders
      .find(query)
      .sort({ created_at: -1, _id: -1 })
      .limit(limit + 1)
      .lean<Order[]>();
    const more = rows.length > limit;
    const pageRows = more ? rows.slice(0, limit) : rows;
    const last = pageRows.at(-1);
    return {
      orders: await this.views(pageRows),
      next_cursor: more && last ? encodeCursor(last) : null,
    };
  }

  /**
   * One `count` per known slug (and one for none), each an index range count on the embedded store,
   * where a `$group` would decode every matching order. An order under a slug this version does
   * not know makes the sum differ from the total; then the `$group` answers, so counts stay exact.
   */
  async countBySlug(filter: OrderFilter): Promise<SlugCounts> {
    const query = this.query(filter);
    const slugs: (string | null)[] = filter.last_error_slug ? [filter.last_error_slug] : [null, ...Object.keys(SLUGS)];
    const [total, ...counts] = await Promise.all([
      this.count(query),
      ...slugs.map((slug) => this.count({ ...query, last_error_slug: slug })),
    ]);
    let groups = slugs.map((slug, i) => ({ _id: slug, count: counts[i]! })).filter((g) => g.count > 0);
    if (groups.reduce((n, g) => n + g.count, 0) !== total) {
      groups = await this.orders.aggregate<{ _id: string | null; count: number }>([
        { $match: query },
        { $group: { _id: '$last_error_slug', count: { $sum: 1 } } },
      ]);
    }
    const by_slug = groups
      .map((g) => ({ slug: g._id ?? null, count: g.count }))
      .sort((a, b) => b.count - a.count || String(a.slug).localeCompare(String(b.slug)));
    return { total: by_slug.reduce((n, g) => n + g.count, 0), by_slug };
  }

  private async count(query: OrderQuery): Promise<number> {
    const res = await this.orders.db.db!.command({ count: this.orders.collection.collectionName, query });
    return Number(res.n);
  }

  async get(orderId: string): Promise<StaffOrderView> {
    const order = await this.orders.findById(orderId).lean<Order>();
    if (!order) throw notFound('Order');
    const [view] = await this.views([order]);
    return view!;
  }

  private query(filter: OrderFilter): OrderQuery {
    const query: OrderQuery = {};
    if (filter.project_id) query.project_id = filter.project_id;
    if (filter.status) query.status = filter.status;
    if (filter.last_error_slug) query.last_error_slug = filter.last_error_slug;
    if (filter.external_user_id) query.external_user_id = filter.external_user_id;
    if (filter.external_id) query.external_id = filter.external_id;
    if (filter.order_type) query.order_type = filter.order_type;
    if (filter.card_id) query.card_id = filter.card_id;
    if (filter.idempotency_key) query.idempotency_key = filter.idempotency_key;
    if (filter.issue_status) query.issue_status = filter.issue_status;
    if (filter.from || filter.to) {
      query.created_at = { ...(filter.from && { $gte: filter.from }), ...(filter.to && { $lt: filter.to }) };
    }
    return query;
  }

  /** Money is formatted in the order's currency, else its project's. */
  private async views(orders: Order[]): Promise<StaffOrderView[]> {
    const missing = [...new Set(orders.filter((o) => !o.data.currency).map((o) => o.project_id))];
    const currencies = new Map<string, string>();
    if (missing.length > 0) {
      for (const p of await this.projects.find({ _id: { $in: missing } }, { currency: 1 }).lean<Pick<Project, '_id' | 'currency'>[]>()) {
        currencies.set(p._id, p.currency);
      }
    }
    return orders.map((o) => toStaffOrderView(o, exponentOf(o.data.currency ?? currencies.get(o.project_id))));
  }
}

/** Minor-unit digits of a currency; 2 when it is unknown (display only, never for money rules). */
export function exponentOf(currency: string | undefined): number {
  try {
    return currency ? currencyExponent(currency) : 2;
  } catch {
    return 2;
  }
}
