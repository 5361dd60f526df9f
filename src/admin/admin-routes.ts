import express, { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Actor } from '../back-office/audit-log.js';
import type { BackOffice } from '../back-office/back-office.js';
import { OrderLookup } from '../back-office/order-lookup.js';
import { parseInput } from '../back-office/validate.js';
import { SLUGS } from '../errors/slugs.js';
import { sendData } from '../http/respond.js';
import type { CardProvider } from '../provider/card-provider.js';
import type { Logger } from '../logging/logger.js';
import { GatewayError } from '../errors/gateway-error.js';
import { staffAuth, staffAuthThrottle, type StaffAuthThrottle } from './staff-auth.js';
import { webhookAdminRoutes } from '../webhooks/webhook-admin-routes.js';
import { orderRepairRoutes } from '../order-repair/order-repair-routes.js';
import type { StaffCardOps } from '../card-ops/card-ops-admin.js';
import { cardOpsAdminRoutes } from '../card-ops/card-ops-admin-routes.js';

export const reconcileSchema = z
  .object({
    project_ids: z.array(z.string().min(1).max(100)).min(1).max(1000).optional(),
    stuck_after_s: z.number().int().min(1).max(30 * 86_400).optional(),
    settle_s: z.number().int().min(0).max(86_400).optional(),
    max_faults: z.number().int().min(0).max(10_000).optional(),
  })
  .strict();

export interface AdminRouteOptions {
  tokens: ReadonlyMap<string, string> | undefined;
  stuckAfterS: number;
  /** Cards are compared with it when given. */
  provider?: CardProvider;
  authThrottle: StaffAuthThrottle;
  logger: Logger;
  /** Staff card freeze, unfreeze and terminate; absent where card operations are not wired. */
  cards?: StaffCardOps;
}

/** A repeated parameter arrives as an array; silently picking one would drop a filter. */
const singleQueryValues: express.RequestHandler = (req, _res, next) => {
  const repeated = Object.values(req.query as Record<string, unknown>).some((v) => typeof v !== 'string');
  next(repeated ? new GatewayError('validation_error', undefined, { issues: [{ path: 'query', message: 'a query parameter is given more than once' }] }) : undefined);
};

const PAGE_KEYS = new Set(['limit', 'cursor']);

/**
 * The admin API (contract section 5), mounted at /admin/v1: plain JSON for staff tools, behind
 * staff bearer tokens. Routes only translate HTTP; the back-office services decide and audit.
 */
export function adminRoutes(backOffice: BackOffice, options: AdminRouteOptions): Router {
  const { orders, projects, funding, products, cardholders, audit } = backOffice;
  const router = Router();
  // Authentication comes before the body is even parsed: an anonymous caller costs nothing.
  router.use(staffAuthThrottle(options.authThrottle, options.logger));
  router.use(staffAuth(options.tokens, options.logger));
  router.use(singleQueryValues);
  router.use(express.json({ limit: '64kb', strict: true }));

  const actor = (res: Response): Actor => ({ staff: res.locals.staff!, via: 'admin_api', requestId: res.locals.requestId });
  const body = (req: Request): unknown => req.body ?? {};
  const param = (req: Request, name: string): string => String(req.params[name]);

  router.get('/slugs', async (_req, res) => {
    await sendData(res, 200, Object.entries(SLUGS).map(([slug, s]) => ({ slug, status: s.status, message: s.message })));
  });

  // --- orders ---------------------------------------------------------------------------------
  router.get('/orders', async (req, res) => {
    const { filter, page } = splitQuery(req);
    await sendData(res, 200, await orders.find(OrderLookup.parseFilter(filter), page));
  });
  router.get('/orders/slug-counts', async (req, res) => {
    const { filter } = splitQuery(req);
    await sendData(res, 200, await orders.countBySlug(OrderLookup.parseFilter(filter)));
  });
  router.get('/orders/:order_id', async (req, res) => {
    await sendData(res, 200, await orders.get(param(req, 'order_id')));
  });

  // --- projects, keys, funding ----------------------------------------------------------------
  router.get('/projects', async (_req, res) => {
    await sendData(res, 200, await projects.list());
  });
  router.post('/projects', async (req, res) => {
    await sendData(res, 201, await projects.create(actor(res), body(req)));
  });
  router.get('/projects/:project_id', async (req, res) => {
    await sendData(res, 200, await projects.get(param(req, 'project_id')));
  });
  router.post('/projects/:project_id/disable', async (req, res) => {
    await sendData(res, 200, await projects.setStatus(actor(res), param(req, 'project_id'), 'disabled'));
  });
  router.post('/projects/:project_id/enable', async (req, res) => {
    await sendData(res, 200, await projects.setStatus(actor(res), param(req, 'project_id'), 'active'));
  });
  for (const use of ['signing', 'encryption'] as const) {
    router.post(`/projects/:project_id/${use}-keys`, async (req, res) => {
      await sendData(res, 201, await projects.addKey(actor(res), param(req, 'project_id'), use, body(req)));
    });
    router.post(`/projects/:project_id/${use}-keys/:kid/retire`, async (req, res) => {
      const force = (body(req) as { force?: unknown }).force === true;
      await sendData(res, 200, await projects.retireKey(actor(res), param(req, 'project_id'), use, param(req, 'kid'), force));
    });
  }
  router.post('/projects/:project_id/deposits', async (req, res) => {
    const headerKey = req.get('idempotency-key');
    const input = { ...(body(req) as object), ...(headerKey !== undefined && { idempotency_key: headerKey }) };
    const result = await funding.fund(actor(res), param(req, 'project_id'), input);
    await sendData(res, result.replayed ? 200 : 201, result.order, result.replayed ? { 'Idempotent-Replayed': 'true' } : {});
  });

  // --- cardholders ----------------------------------------------------------------------------
  router.get('/projects/:project_id/cardholders', async (req, res) => {
    await sendData(res, 200, await cardholders.list(param(req, 'project_id')));
  });
  router.post('/projects/:project_id/cardholders', async (req, res) => {
    await sendData(res, 201, await cardholders.create(actor(res), param(req, 'project_id'), body(req)));
  });
  router.get('/projects/:project_id/cardholders/:external_user_id', async (req, res) => {
    await sendData(res, 200, await cardholders.get(param(req, 'project_id'), param(req, 'external_user_id')));
  });
  router.put('/projects/:project_id/cardholders/:external_user_id/verification', async (req, res) => {
    const { project_id, external_user_id } = { project_id: param(req, 'project_id'), external_user_id: param(req, 'external_user_id') };
    await sendData(res, 200, await cardholders.setVerification(actor(res), project_id, external_user_id, body(req)));
  });

  // --- products -------------------------------------------------------------------------------
  router.get('/products', async (_req, res) => {
    await sendData(res, 200, await products.list());
  });
  router.post('/products', async (req, res) => {
    await sendData(res, 201, await products.create(actor(res), body(req)));
  });
  router.get('/products/:product_code', async (req, res) => {
    await sendData(res, 200, await products.get(param(req, 'product_code')));
  });
  router.patch('/products/:product_code', async (req, res) => {
    await sendData(res, 200, await products.update(actor(res), param(req, 'product_code'), body(req)));
  });
  router.post('/products/:product_code/deactivate', async (req, res) => {
    await sendData(res, 200, await products.update(actor(res), param(req, 'product_code'), { active: false }));
  });
  router.post('/products/:product_code/activate', async (req, res) => {
    await sendData(res, 200, await products.update(actor(res), param(req, 'product_code'), { active: true }));
  });

  // --- reconciliation (read-only; for large histories prefer `npm run reconcile`) --------------
  router.post('/reconciliations', async (req, res) => {
    const input = parseInput(reconcileSchema, body(req));
    const report = await backOffice.reconciler.run({
      stuckAfterS: input.stuck_after_s ?? options.stuckAfterS,
      ...(input.settle_s !== undefined && { settleS: input.settle_s }),
      ...(input.max_faults !== undefined && { maxFaults: input.max_faults }),
      ...(input.project_ids && { projectIds: input.project_ids }),
      ...(options.provider && { provider: options.provider }),
    });
    await sendData(res, 200, report);
  });

  router.use(webhookAdminRoutes(backOffice.webhooks));
  router.use(orderRepairRoutes(backOffice.repair));
  if (options.cards) router.use(cardOpsAdminRoutes(options.cards));

  // --- audit ----------------------------------------------------------------------------------
  router.get('/audit', async (req, res) => {
    const q = req.query as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
    const limit = Number(str(q.limit) ?? 50);
    await sendData(res, 200, await audit.list({ target: str(q.target), staff: str(q.staff), limit: Number.isFinite(limit) ? limit : 50 }));
  });

  return router;
}

/** Query string -> lookup filter and page; repeated parameters are passed through and refused by the schema. */
function splitQuery(req: Request): { filter: Record<string, unknown>; page: { limit?: number; cursor?: string } } {
  const filter: Record<string, unknown> = {};
  const page: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(req.query as Record<string, unknown>)) {
    (PAGE_KEYS.has(key) ? page : filter)[key] = value;
  }
  return { filter, page: page };
}
