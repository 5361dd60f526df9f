import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Express } from 'express';
import type { Connection } from 'mongoose';
import request from 'supertest';
import { createGateway } from '../../src/app.js';
import { auditLogModel, type AuditEntry } from '../../src/back-office/audit-log.js';
import { consoleSessionModel } from '../../src/console/console-sessions.js';
import { consoleReportModel } from '../../src/console/console-service.js';
import { dropIsolatedDb, isolatedDb } from '../support/isolated-db.js';
import { testLogger } from '../support/log-capture.js';
import { testConfig } from '../support/test-config.js';

const TOKEN = 'console-http-staff-token-0123456789abcdef';

describe('support console over HTTP: sessions, CSRF, audit, escaping, downloads', function () {
  this.timeout(60_000);
  let connection: Connection;
  let app: Express;

  before(async () => {
    connection = await isolatedDb('console');
    app = (await createGateway({ config: testConfig({ ADMIN_TOKENS: `erin:${TOKEN}` }), logger: testLogger, connection })).app;
  });
  after(async () => {
    await dropIsolatedDb(connection);
  });

  const cookieOf = (res: request.Response, name: string): string | undefined => {
    const raw = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    return raw.find((c) => c.startsWith(`${name}=`));
  };
  const csrfOf = (html: string): string => /name="csrf" value="([^"]+)"/.exec(html)![1]!;

  async function signIn(): Promise<{ agent: ReturnType<typeof request.agent>; sessionCookie: string; csrf: string }> {
    const agent = request.agent(app);
    const form = await agent.get('/console/login').expect(200);
    const nonce = /name="nonce" value="([^"]+)"/.exec(form.text)![1]!;
    const res = await agent.post('/console/login').type('form').send({ nonce, token: TOKEN }).expect(303);
    const cookie = cookieOf(res, 'console_session')!;
    const page = await agent.get('/console/orders').expect(200);
    return { agent, sessionCookie: cookie, csrf: csrfOf(page.text) };
  }

  it('when staff sign in, then the cookie is HttpOnly, SameSite=Strict, scoped to /console, and only its hash is stored', async () => {
    const { sessionCookie } = await signIn();
    assert.match(sessionCookie, /; HttpOnly/);
    assert.match(sessionCookie, /; SameSite=Strict/);
    assert.match(sessionCookie, /; Path=\/console/);
    const id = /^console_session=([^;]+)/.exec(sessionCookie)![1]!;
    const sessions = consoleSessionModel(connection);
    assert.equal(await sessions.countDocuments({ _id: id }), 0, 'the raw id is not stored');
    const stored = await sessions.findById(createHash('sha256').update(id).digest('hex')).lean();
    assert.equal(stored?.staff, 'erin');
  });

  it('when the sign-in form lacks its nonce, or the token is wrong, then sign-in is refused and no session is stored', async () => {
    const before = await consoleSessionModel(connection).countDocuments();
    await request(app).post('/console/login').type('form').send({ token: TOKEN }).expect(403);
    const agent = request.agent(app);
    const nonce = /name="nonce" value="([^"]+)"/.exec((await agent.get('/console/login')).text)![1]!;
    const wrong = await agent.post('/console/login').type('form').send({ nonce, token: `${TOKEN}x` }).expect(401);
    assert.equal(cookieOf(wrong, 'console_session'), undefined);
    assert.equal(await consoleSessionModel(connection).countDocuments(), before);
    await request(app).get('/console/orders').expect(303).expect('Location', '/console/login');
  });

  it('when a page is viewed, then it carries a strict CSP, escapes stored text, and the view is audited under the staff name', async () => {
    const { agent, csrf } = await signIn();
    await request(app).post('/admin/v1/projects').set('Authorization', `Bearer ${TOKEN}`).send({ name: '<script>alert(1)</script>', project_id: 'prj_console_xss' }).expect(201);
    const res = await agent.get('/console/projects').expect(200);
    assert.match(res.headers['content-security-policy'] as string, /default-src 'none'; style-src 'self'/);
    assert.equal(res.text.includes('<script>alert(1)</script>'), false);
    assert.ok(res.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.equal(res.text.includes('<script'), false, 'no script at all in the page');
    const views = await auditLogModel(connection).find({ action: 'console.view', target: 'projects' }).lean<AuditEntry[]>();
    assert.ok(views.some((v) => v.staff === 'erin' && v.via === 'console' && v.outcome === 'applied'));
    assert.ok(csrf.length > 20);
  });

  it('when a change is posted without the session CSRF token, then it is refused 403 and nothing runs; with it, the report is stored and downloads as JSON and CSV', async () => {
    const { agent, csrf } = await signIn();
    const reports = consoleReportModel(connection);
    const before = await reports.countDocuments();
    const refused = await agent.post('/console/reconcile').type('form').send({ settle_s: '0' }).expect(403);
    assert.match(refused.text, /csrf_token_invalid/);
    await agent.post('/console/reconcile').type('form').send({ settle_s: '0', csrf: 'x'.repeat(43) }).expect(403);
    assert.equal(await reports.countDocuments(), before, 'no report was run');

    const ran = await agent.post('/console/reconcile').type('form').send({ settle_s: '0', csrf }).expect(303);
    const location = ran.headers.location as string;
    assert.match(location, /^\/console\/reconcile\/rec_/);
    assert.equal(await reports.countDocuments(), before + 1);
    const page = await agent.get(location).expect(200);
    assert.match(page.text, /Reconciliation report/);
    const json = await agent.get(`${location}/report.json`).expect(200).expect('Content-Type', /application\/json/);
    const report = JSON.parse(json.text) as { ok: boolean; totals: { projects: number } };
    assert.equal(typeof report.ok, 'boolean');
    const csv = await agent.get(`${location}/report.csv`).expect(200).expect('Content-Type', /text\/csv/);
    assert.match(csv.text, /^"record","kind","project_id"/);
    assert.equal(csv.text.trim().split('\r\n').filter((l) => l.startsWith('"project"')).length, report.totals.projects);
    const audit = await auditLogModel(connection).findOne({ action: 'reconciliation.run', via: 'console' }).lean<AuditEntry>();
    assert.equal(audit?.outcome, 'applied');
  });

  it('when a session has been idle past its expiry, then the next page signs the staff member out and the session is deleted', async () => {
    const { agent, sessionCookie } = await signIn();
    const id = /^console_session=([^;]+)/.exec(sessionCookie)![1]!;
    const hash = createHash('sha256').update(id).digest('hex');
    await consoleSessionModel(connection).updateOne({ _id: hash }, { $set: { expires_at: new Date(Date.now() - 1000) } });
    await agent.get('/console/orders').expect(303).expect('Location', '/console/login');
    assert.equal(await consoleSessionModel(connection).countDocuments({ _id: hash }), 0);
  });

  it('when a session is used before it lapses, then its expiry slides forward to a full idle period', async () => {
    const { agent, sessionCookie } = await signIn();
    const hash = createHash('sha256').update(/^console_session=([^;]+)/.exec(sessionCookie)![1]!).digest('hex');
    const sessions = consoleSessionModel(connection);
    await sessions.updateOne({ _id: hash }, { $set: { last_seen_at: new Date(Date.now() - 61_000), expires_at: new Date(Date.now() + 5_000) } });
    await agent.get('/console/products').expect(200);
    const touched = await sessions.findById(hash).lean();
    assert.ok(touched!.expires_at.getTime() > Date.now() + 800_000, 'about CONSOLE_SESSION_IDLE_S (900 s) from now');
  });

  it('when a filter is invalid, then the page answers 400 naming the field, and an unknown order is a 404 page', async () => {
    const { agent } = await signIn();
    const bad = await agent.get('/console/orders?status=bogus').expect(400);
    assert.match(bad.text, /validation_error/);
    assert.match(bad.text, /<code>status<\/code>/);
    const missing = await agent.get('/console/orders/ord_nope').expect(404);
    assert.match(missing.text, /not_found/);
  });
});
