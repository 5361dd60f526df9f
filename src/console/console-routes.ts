import { randomBytes } from 'node:crypto';
import express, { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { staffMatcher } from '../admin/staff-auth.js';
import type { Actor } from '../back-office/audit-log.js';
import type { BackOffice } from '../back-office/back-office.js';
import { OrderLookup } from '../back-office/order-lookup.js';
import { parseInput } from '../back-office/validate.js';
import { GatewayError } from '../errors/gateway-error.js';
import { SLUGS, type Slug } from '../errors/slugs.js';
import type { Logger } from '../logging/logger.js';
import { currencyExponent, formatMinor } from '../money/money.js';
import type { CardProvider } from '../provider/card-provider.js';
import type { ReconcileReport } from '../reconcile/reconciler.js';
import { CONSOLE_CSS } from './console-assets.js';
import { ConsoleReads } from './console-service.js';
import { ConsoleSessions, sameToken, type ConsoleSession } from './console-sessions.js';
import { fields, html, query, table, type Html } from './html.js';
import { ORDER_TYPES } from '../orders/order-model.js';

export const CONSOLE_PREFIX = '/console';
const SESSION_COOKIE = 'console_session';
const LOGIN_COOKIE = 'console_login';

/**
 * The page's whole security policy: nothing but this origin's stylesheet, no script at all, forms
 * post only here, no framing. The console works without JavaScript.
 */
const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export interface ConsoleOptions {
  tokens: ReadonlyMap<string, string> | undefined;
  idleS: number;
  maxS: number;
  stuckAfterS: number;
  provider?: CardProvider;
  logger: Logger;
}

declare module 'express-serve-static-core' {
  interface Locals {
    consoleSession?: ConsoleSession;
  }
}

const reconcileForm = z
  .object({
    stuck_after_s: z.coerce.number().int().min(1).max(30 * 86_400).optional(),
    settle_s: z.coerce.number().int().min(0).max(86_400).optional(),
    project_id: z.string().min(1).max(100).optional(),
    csrf: z.string().optional(),
  })
  .strict();

const FILTER_KEYS = ['status', 'last_error_slug', 'project_id', 'external_user_id', 'external_id', 'order_type', 'from', 'to'] as const;

/**
 * The support console (issue 14): server-rendered pages over the same back-office services as the
 * admin API. Staff sign in with their admin token; every page they see and every change they make
 * is written to the audit log first (via `console`).
 */
export function consoleRoutes(backOffice: BackOffice, connection: ConstructorParameters<typeof ConsoleReads>[0], options: ConsoleOptions): Router {
  const router = Router();
  const match = staffMatcher(options.tokens);
  const sessions = new ConsoleSessions(connection, options.idleS * 1000, options.maxS * 1000);
  const reads = new ConsoleReads(connection);
  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 });

  router.use((_req, res, next) => {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  router.get('/assets/console.css', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.type('text/css').send(CONSOLE_CSS);
  });

  // --- sign in / out ------------------------------------------------------------------------
  router.get('/login', (req, res) => {
    const nonce = randomBytes(24).toString('base64url');
    setCookie(req, res, LOGIN_COOKIE, nonce, 600);
    page(res, 200, 'Sign in', loginPage(nonce));
  });

  router.post('/login', form, wrap(async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    // Login CSRF: the form's nonce must equal the cookie set with the form (double submit).
    const nonce = cookies(req)[LOGIN_COOKIE];
    if (!nonce || !sameToken(typeof body.nonce === 'string' ? body.nonce : undefined, nonce)) {
      const fresh = randomBytes(24).toString('base64url');
      setCookie(req, res, LOGIN_COOKIE, fresh, 600);
      page(res, 403, 'Sign in', loginPage(fresh, 'The sign-in form expired; try again.'));
      return;
    }
    const staff = typeof body.token === 'string' && body.token.length <= 512 ? match(body.token) : undefined;
    if (staff === undefined) {
      options.logger.warn('console sign-in refused', { request_id: res.locals.requestId });
      page(res, 401, 'Sign in', loginPage(nonce, 'That token is not a staff token.'));
      return;
    }
    const { id } = await sessions.create(staff);
    await backOffice.audit.run(actorOf(res, staff), { action: 'console.sign_in', target: `staff:${staff}`, summary: {} }, () => Promise.resolve(undefined));
    clearCookie(req, res, LOGIN_COOKIE);
    setCookie(req, res, SESSION_COOKIE, id, options.maxS);
    res.redirect(303, `${CONSOLE_PREFIX}/orders?status=failed`);
  }));

  // Everything below needs a live session.
  router.use(wrap(async (req, res, next) => {
    const session = await sessions.find(cookies(req)[SESSION_COOKIE]);
    if (!session) {
      clearCookie(req, res, SESSION_COOKIE);
      if (req.method === 'GET') res.redirect(303, `${CONSOLE_PREFIX}/login`);
      else page(res, 401, 'Signed out', html`<div class="error">Your session has ended. <a href="${CONSOLE_PREFIX}/login">Sign in again</a>.</div>`);
      return;
    }
    res.locals.consoleSession = session;
    res.locals.staff = session.staff;
    next();
  }));

  // Every change (a POST) carries the session's CSRF token.
  const csrf: RequestHandler = (req, res, next) => {
    const token = ((req.body ?? {}) as Record<string, unknown>).csrf;
    if (!sameToken(typeof token === 'string' ? token : undefined, res.locals.consoleSession!.csrf)) {
      next(new GatewayError('csrf_token_invalid'));
      return;
    }
    next();
  };

  router.post('/logout', form, csrf, wrap(async (req, res) => {
    const staff = res.locals.consoleSession!.staff;
    await backOffice.audit.run(actorOf(res, staff), { action: 'console.sign_out', target: `staff:${staff}`, summary: {} }, () =>
      sessions.end(cookies(req)[SESSION_COOKIE]),
    );
    clearCookie(req, res, SESSION_COOKIE);
    res.redirect(303, `${CONSOLE_PREFIX}/login`);
  }));

  /** A page view, audited like an API read: who saw what, when. */
  const viewed = <T>(res: Response, target: string, summary: Record<string, unknown>, load: () => Promise<T>): Promise<T> =>
    backOffice.audit.run(actorOf(res, res.locals.consoleSession!.staff), { action: 'console.view', target, summary }, load);

  router.get('/', (_req, res) => res.redirect(303, `${CONSOLE_PREFIX}/orders?status=failed`));

  // --- orders -------------------------------------------------------------------------------
  router.get('/orders', wrap(async (req, res) => {
    const raw = plainQuery(req);
    const filterInput = Object.fromEntries(FILTER_KEYS.filter((k) => raw[k]).map((k) => [k, raw[k]]));
    const unknown = Object.keys(raw).filter((k) => !(FILTER_KEYS as readonly string[]).includes(k) && k !== 'cursor');
    let problem: Html | undefined;
    let result: { page: Awaited<ReturnType<BackOffice['orders']['find']>>; counts: Awaited<ReturnType<BackOffice['orders']['countBySlug']>> } | undefined;
    try {
      if (unknown.length > 0) throw new GatewayError('validation_error', undefined, { issues: unknown.map((k) => ({ path: k, message: 'is not a filter' })) });
      const filter = OrderLookup.parseFilter(filterInput);
      const page = raw.cursor ? { cursor: raw.cursor, limit: 25 } : { limit: 25 };
      result = await viewed(res, 'orders', { filter: filterInput, cursor: raw.cursor ?? null }, async () => ({
        page: await backOffice.orders.find(filter, page),
        counts: await backOffice.orders.countBySlug(filter),
      }));
    } catch (err) {
      if (!(err instanceof GatewayError) || err.slug !== 'validation_error') throw err;
      problem = errorBox(err);
    }
    const rows = (result?.page.orders ?? []).map((o) => [
      html`<a href="${CONSOLE_PREFIX}/orders/${encodeURIComponent(o.order_id)}" class="mono">${o.order_id}</a>`,
      html`<span class="status-${o.status}">${o.status}</span>`,
      o.issue_status,
      o.last_error_slug ? html`<span class="slug">${o.last_error_slug}</span>` : '—',
      html`<a href="${CONSOLE_PREFIX}/projects/${encodeURIComponent(o.project_id)}" class="mono">${o.project_id}</a>`,
      o.order_type,
      o.created_at,
    ]);
    const counts = result?.counts;
    const slugLinks = (counts?.by_slug ?? []).map(
      (g) => html`<li>${g.slug === null ? html`<span class="empty">no slug</span>` : html`<a href="${CONSOLE_PREFIX}/orders${query({ ...filterInput, last_error_slug: g.slug })}" class="slug">${g.slug}</a>`}<span class="num">${g.count}</span></li>`,
    );
    const next = result?.page.next_cursor;
    page(
      res,
      problem ? 400 : 200,
      'Orders',
      html`<h1>Orders</h1>${problem}${filterForm(filterInput)}
      <div class="layout"><div>${table(['order', 'status', 'issue_status', 'slug', 'project', 'type', 'created'], rows, 'No orders match.')}
      <p class="pager">${raw.cursor ? html`<a href="${CONSOLE_PREFIX}/orders${query(filterInput)}">« first page</a> ` : ''}${next ? html`<a href="${CONSOLE_PREFIX}/orders${query({ ...filterInput, cursor: next })}" rel="next">next page »</a>` : ''}</p></div>
      <aside class="panel"><h2>Per slug (${counts?.total ?? 0})</h2><ul id="slug-counts">${slugLinks}</ul></aside></div>`,
    );
  }));

  router.get('/orders/:order_id', wrap(async (req, res) => {
    const orderId = String(req.params.order_id);
    const { view, story } = await viewed(res, `order:${orderId}`, {}, async () => ({
      view: await backOffice.orders.get(orderId),
      story: await reads.orderStory(orderId),
    }));
    const o = story.order;
    page(
      res,
      200,
      `Order ${orderId}`,
      html`<h1>Order <span class="mono">${orderId}</span> <span class="status-${view.status}">${view.status}</span></h1>
      <div class="grid2"><section><h2>Fields</h2>${fields([
        ['project', html`<a href="${CONSOLE_PREFIX}/projects/${encodeURIComponent(view.project_id)}" class="mono">${view.project_id}</a>`],
        ['order type', view.order_type],
        ['status', view.status],
        ['issue_status', view.issue_status],
        ['last error slug', view.last_error_slug ? html`<span class="slug">${view.last_error_slug}</span>` : null],
        ['last error', view.last_error],
        ['attempts (current step)', String(o.attempts)],
        ['next attempt at', o.next_attempt_at?.toISOString()],
        ['idempotency key', html`<span class="mono">${o.idempotency_key}</span>`],
        ['external id', view.external_id],
        ['external user id', o.external_user_id],
        ['product', view.data.product_code as string | undefined],
        ['initial balance', view.data.initial_balance as string | undefined],
        ['issue fee', view.data.issue_fee as string | undefined],
        ['total charge', view.data.total_charge as string | undefined],
        ['amount (deposit)', view.data.amount as string | undefined],
        ['balance before / after', view.balance_before === null ? null : `${view.balance_before} → ${view.balance_after ?? '—'}`],
        ['created', view.created_at],
        ['updated', view.updated_at],
        ['completed', view.completed_at],
        ['failed', view.failed_at],
      ])}</section>
      <section><h2>Card and provider</h2>${fields([
        ['card id', story.card?._id ?? view.card_id],
        ['card (masked)', story.card ? html`<span class="mono">${story.card.masked_pan}</span>` : null],
        ['card status', story.card?.status],
        ['provider card id', o.provider_card_id ?? story.card?.provider_card_id],
        ['provider top-up id', o.provider_topup_id],
        ['provider card status', view.provider_card_status],
        ['lease', o.lease_owner ? `${o.lease_owner} until ${o.lease_expires_at?.toISOString() ?? '—'}` : null],
      ])}</section></div>
      <h2>Timeline</h2><div id="timeline">${table(['at', 'what', 'detail'], story.timeline.map((e) => [e.at.toISOString(), e.what, e.detail]))}</div>
      <h2>Workflow claims (attempts by a worker)</h2>${table(['epoch', 'worker', 'claimed at', 'lease until'], story.claims.map((c) => [String(c.epoch), c.owner, c.created_at.toISOString(), c.expires_at.toISOString()]), 'No claim stored: claims are deleted once an order is finished, or no worker took it yet.')}
      <h2>Ledger entries</h2><div id="ledger">${table(
        ['seq', 'kind', 'amount', 'balance before', 'balance after', 'currency', 'at'],
        story.ledger.map((e) => [String(e.seq), e.kind, e.amount, e.balance_before, e.balance_after, e.currency, e.created_at.toISOString()]),
        'This order made no ledger entries.',
      )}</div>`,
    );
  }));

  // --- projects, products -------------------------------------------------------------------
  router.get('/projects', wrap(async (_req, res) => {
    const projects = await viewed(res, 'projects', {}, () => backOffice.projects.list());
    page(res, 200, 'Projects', html`<h1>Projects</h1>${table(
      ['project', 'name', 'status', 'balance', 'signing keys', 'encryption keys', 'created'],
      projects.map((p) => [
        html`<a href="${CONSOLE_PREFIX}/projects/${encodeURIComponent(p.project_id)}" class="mono">${p.project_id}</a>`,
        p.name,
        p.status,
        `${p.balance} ${p.currency}`,
        String(p.signing_keys.filter((k) => k.status === 'active').length) + ' active',
        String(p.encryption_keys.filter((k) => k.status === 'active').length) + ' active',
        p.created_at,
      ]),
      'No projects yet.',
    )}`);
  }));

  router.get('/projects/:project_id', wrap(async (req, res) => {
    const projectId = String(req.params.project_id);
    const { project, deposits, holders } = await viewed(res, `project:${projectId}`, {}, async () => ({
      project: await backOffice.projects.get(projectId),
      deposits: await reads.deposits(projectId),
      holders: await backOffice.cardholders.list(projectId),
    }));
    const keys = (list: typeof project.signing_keys) =>
      table(['kid', 'alg', 'status', 'thumbprint (public key)', 'created', 'retired'], list.map((k) => [html`<span class="mono">${k.kid}</span>`, k.alg, k.status, html`<span class="mono">${k.thumbprint}</span>`, k.created_at, k.retired_at]), 'None registered.');
    page(res, 200, `Project ${projectId}`, html`<h1>Project <span class="mono">${projectId}</span></h1>
      ${fields([['name', project.name], ['status', project.status], ['balance', html`<strong id="balance">${project.balance} ${project.currency}</strong>`], ['created', project.created_at], ['updated', project.updated_at]])}
      <p><a href="${CONSOLE_PREFIX}/orders${query({ project_id: projectId })}">This project's orders</a> · <a href="${CONSOLE_PREFIX}/orders${query({ project_id: projectId, status: 'failed' })}">failed ones</a></p>
      <h2>Signing keys</h2>${keys(project.signing_keys)}
      <h2>Encryption keys</h2>${keys(project.encryption_keys)}
      <h2>Deposits (latest 50)</h2>${table(['seq', 'amount', 'balance before', 'balance after', 'order', 'at'], deposits.map((d) => [String(d.seq), `${d.amount} ${d.currency}`, d.balance_before, d.balance_after, html`<a href="${CONSOLE_PREFIX}/orders/${encodeURIComponent(d.order_id)}" class="mono">${d.order_id}</a>`, d.created_at.toISOString()]), 'No deposits.')}
      <h2>Cardholders (first 100)</h2>${table(['external user id', 'verification', 'first name', 'last name', 'created'], holders.map((h) => [h.external_user_id, h.verification_status, h.first_name, h.last_name, h.created_at]), 'No cardholders.')}`);
  }));

  router.get('/products', wrap(async (_req, res) => {
    const products = await viewed(res, 'products', {}, () => backOffice.products.list());
    page(res, 200, 'Products', html`<h1>Products</h1>${table(
      ['code', 'id', 'name', 'active', 'currency', 'issue fee', 'initial balance min–max', 'limits'],
      products.map((p) => [html`<span class="mono">${p.product_code}</span>`, String(p.product_id), p.name, p.active ? 'yes' : 'no', p.currency, p.issue_fee, `${p.initial_balance_min} – ${p.initial_balance_max}`, Object.entries(p.limits).map(([k, v]) => `${k} ${v}`).join(', ')]),
      'No products yet.',
    )}`);
  }));

  // --- reconciliation -----------------------------------------------------------------------
  router.get('/reconcile', wrap(async (_req, res) => {
    const recent = await viewed(res, 'reconciliations', {}, () => reads.recentReports());
    page(res, 200, 'Reconciliation', html`<h1>Reconciliation</h1>
      <form method="post" action="${CONSOLE_PREFIX}/reconcile" class="filters">
        <input type="hidden" name="csrf" value="${res.locals.consoleSession!.csrf}">
        <label>project (blank: all)<input name="project_id"></label>
        <label>stuck after (s)<input name="stuck_after_s" inputmode="numeric" placeholder="${String(options.stuckAfterS)}"></label>
        <label>in-flight window (s)<input name="settle_s" inputmode="numeric"></label>
        <button type="submit">Run reconciliation</button>
      </form>
      <p class="empty">Read-only: it compares the ledger, the orders and the cards${options.provider ? ' (and the provider)' : ''}, and changes nothing. For very large histories prefer <code>npm run reconcile</code>.</p>
      <h2>Recent reports</h2>${table(['report', 'by', 'at'], recent.map((r) => [html`<a href="${CONSOLE_PREFIX}/reconcile/${encodeURIComponent(r._id)}" class="mono">${r._id}</a>`, r.staff, r.created_at.toISOString()]), 'None yet.')}`);
  }));

  router.post('/reconcile', form, csrf, wrap(async (req, res) => {
    const input = parseInput(reconcileForm, Object.fromEntries(Object.entries((req.body ?? {}) as Record<string, unknown>).filter(([, v]) => v !== '')));
    const staff = res.locals.consoleSession!.staff;
    const id = await backOffice.audit.run(
      actorOf(res, staff),
      { action: 'reconciliation.run', target: input.project_id ? `project:${input.project_id}` : 'reconciliation', summary: { project_id: input.project_id ?? null, stuck_after_s: input.stuck_after_s ?? null, settle_s: input.settle_s ?? null } },
      async () => {
        const report = await backOffice.reconciler.run({
          stuckAfterS: input.stuck_after_s ?? options.stuckAfterS,
          maxFaults: 1000,
          ...(input.settle_s !== undefined && { settleS: input.settle_s }),
          ...(input.project_id && { projectIds: [input.project_id] }),
          ...(options.provider && { provider: options.provider }),
        });
        return reads.saveReport(staff, report);
      },
      (reportId) => ({ report_id: reportId }),
    );
    res.redirect(303, `${CONSOLE_PREFIX}/reconcile/${encodeURIComponent(id)}`);
  }));

  router.get('/reconcile/:report_id', wrap(async (req, res) => {
    const id = String(req.params.report_id);
    const stored = await viewed(res, `reconciliation:${id}`, {}, () => reads.report(id));
    page(res, 200, 'Reconciliation report', reportPage(id, stored.staff, stored.report));
  }));

  router.get('/reconcile/:report_id/report.json', wrap(async (req, res) => {
    const id = String(req.params.report_id);
    const stored = await viewed(res, `reconciliation:${id}`, { download: 'json' }, () => reads.report(id));
    res.setHeader('Content-Disposition', `attachment; filename="${id}.json"`);
    res.type('application/json').send(JSON.stringify(stored.report, null, 2));
  }));

  router.get('/reconcile/:report_id/report.csv', wrap(async (req, res) => {
    const id = String(req.params.report_id);
    const stored = await viewed(res, `reconciliation:${id}`, { download: 'csv' }, () => reads.report(id));
    res.setHeader('Content-Disposition', `attachment; filename="${id}.csv"`);
    res.type('text/csv').send(reportCsv(stored.report));
  }));

  router.use((_req, _res, next) => next(new GatewayError('not_found')));
  // Errors as pages, never JSON or stacks: the slug and its message only.
  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const known = err instanceof GatewayError ? err : undefined;
    if (!known) options.logger.error('console error', { request_id: res.locals.requestId, error: err });
    if (res.headersSent) return;
    const slug: Slug = known?.slug ?? 'internal_error';
    res.locals.errorSlug = slug;
    page(res, SLUGS[slug].status, 'Error', html`<h1>${String(SLUGS[slug].status)}</h1>${errorBox(known ?? new GatewayError('internal_error'))}<p><a href="${CONSOLE_PREFIX}/orders?status=failed">Back to failed orders</a></p>`);
  });
  return router;
}

function actorOf(res: Response, staff: string): Actor {
  return { staff, via: 'console', requestId: res.locals.requestId };
}

/** Express 5 forwards rejected promises itself; this only gives handlers one type. */
function wrap(handler: (req: Request, res: Response, next: NextFunction) => Promise<void>): RequestHandler {
  return (req, res, next) => handler(req, res, next).catch(next);
}

function plainQuery(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.query as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
    else throw new GatewayError('validation_error', undefined, { issues: [{ path: k, message: 'give it once' }] });
  }
  return out;
}

function cookies(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function setCookie(req: Request, res: Response, name: string, value: string, maxAgeS: number): void {
  const secure = req.secure ? '; Secure' : '';
  res.append('Set-Cookie', `${name}=${value}; Path=${CONSOLE_PREFIX}; Max-Age=${maxAgeS}; HttpOnly; SameSite=Strict${secure}`);
}

function clearCookie(req: Request, res: Response, name: string): void {
  setCookie(req, res, name, '', 0);
}

function page(res: Response, status: number, title: string, body: Html): void {
  const session = res.locals.consoleSession;
  const nav = session
    ? html`<a href="${CONSOLE_PREFIX}/orders?status=failed">Failed orders</a><a href="${CONSOLE_PREFIX}/orders">All orders</a><a href="${CONSOLE_PREFIX}/projects">Projects</a><a href="${CONSOLE_PREFIX}/products">Products</a><a href="${CONSOLE_PREFIX}/reconcile">Reconciliation</a>
      <form method="post" action="${CONSOLE_PREFIX}/logout"><input type="hidden" name="csrf" value="${session.csrf}"><span class="who">${session.staff}</span> <button class="link" type="submit">Sign out</button></form>`
    : '';
  res
    .status(status)
    .type('html')
    .send(
      html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title} · Card gateway console</title><link rel="stylesheet" href="${CONSOLE_PREFIX}/assets/console.css"></head><body><header><span class="brand">Card gateway · support</span>${nav}</header><main>${body}</main></body></html>`.toString(),
    );
}

function loginPage(nonce: string, problem?: string): Html {
  return html`<div class="login"><h1>Support console</h1>${problem ? html`<div class="error" role="alert">${problem}</div>` : ''}
    <form method="post" action="${CONSOLE_PREFIX}/login"><input type="hidden" name="nonce" value="${nonce}">
    <label for="token">Staff token (the one you use for the admin API)</label><input id="token" name="token" type="password" autocomplete="off" required>
    <button type="submit">Sign in</button></form></div>`;
}

function errorBox(err: GatewayError): Html {
  const issues = err.details.issues ?? [];
  return html`<div class="error" role="alert"><span class="slug">${err.slug}</span> ${err.message}${issues.length > 0 ? html`<ul>${issues.map((i) => html`<li><code>${i.path}</code> ${i.message}</li>`)}</ul>` : ''}</div>`;
}

function filterForm(f: Record<string, string | undefined>): Html {
  const text = (name: string, label: string, placeholder = '') => html`<label>${label}<input name="${name}" value="${f[name] ?? ''}" placeholder="${placeholder}"></label>`;
  const select = (name: string, label: string, values: string[]) =>
    html`<label>${label}<select name="${name}"><option value="">any</option>${values.map((v) => html`<option${f[name] === v ? html` selected` : ''}>${v}</option>`)}</select></label>`;
  return html`<form method="get" action="${CONSOLE_PREFIX}/orders" class="filters">
    ${select('status', 'status', ['new', 'activating', 'processing', 'completed', 'failed'])}
    ${select('last_error_slug', 'slug', Object.keys(SLUGS))}
    ${text('project_id', 'project', 'prj_…')}${text('external_user_id', 'external user id')}${text('external_id', 'external id')}
    ${select('order_type', 'type', [...ORDER_TYPES])}
    ${text('from', 'from (ISO time)', '2026-01-01T00:00:00Z')}${text('to', 'to (ISO time)')}
    <button type="submit">Search</button></form>`;
}

function money(minor: number, currency: string | null): string {
  if (!currency) return String(minor);
  try {
    return `${formatMinor(minor, currencyExponent(currency))} ${currency}`;
  } catch {
    return String(minor);
  }
}

function reportPage(id: string, staff: string, r: ReconcileReport): Html {
  return html`<h1>Reconciliation report <span class="${r.ok ? 'good' : 'bad'}">${r.ok ? 'OK' : `${r.totals.faults} fault(s)`}</span></h1>
    <p><a href="${CONSOLE_PREFIX}/reconcile/${encodeURIComponent(id)}/report.json" download>Download JSON</a> · <a href="${CONSOLE_PREFIX}/reconcile/${encodeURIComponent(id)}/report.csv" download>Download CSV</a></p>
    ${fields([['run by', staff], ['as of', r.as_of], ['stuck after (s)', String(r.stuck_after_s)], ['in-flight window (s)', String(r.settle_s)], ['provider checked', r.provider_checked ? 'yes' : 'no'], ['projects', String(r.totals.projects)], ['ledger entries', String(r.totals.entries)], ['orders', String(r.totals.orders)], ['cards', String(r.totals.cards)]])}
    <h2>Projects</h2>${table(['project', 'ledger entries', 'orders', 'cards', 'balance', 'faults'], r.projects.map((p) => [p.project_id, String(p.entries), String(p.orders), String(p.cards), money(p.balance, p.currency), String(p.faults)]))}
    <h2>Faults${r.faults_truncated ? ` (first ${r.faults.length})` : ''}</h2>${table(['kind', 'project', 'order', 'seq', 'detail'], r.faults.map((f) => [f.kind, f.project_id, f.order_id, f.seq === undefined ? '' : String(f.seq), f.detail]), 'No faults.')}`;
}

/** One row per fault (a clean report has a header only), after a row per project summary. */
export function reportCsv(r: ReconcileReport): string {
  const cell = (v: string | number | null | undefined) => {
    const s = v === undefined || v === null ? '' : String(v);
    // Quote always; a leading formula character is neutralised so a spreadsheet never evaluates it.
    return `"${(/^[=+\-@\t\r]/.test(s) ? `'${s}` : s).replace(/"/g, '""')}"`;
  };
  const lines = [['record', 'kind', 'project_id', 'order_id', 'seq', 'entries', 'orders', 'cards', 'balance_minor', 'currency', 'faults', 'detail'].map(cell).join(',')];
  for (const p of r.projects) lines.push(['project', '', p.project_id, '', '', p.entries, p.orders, p.cards, p.balance, p.currency, p.faults, ''].map(cell).join(','));
  for (const f of r.faults) lines.push(['fault', f.kind, f.project_id, f.order_id, f.seq, '', '', '', '', '', '', f.detail].map(cell).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
