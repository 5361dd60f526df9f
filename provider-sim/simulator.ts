import { createHash, createPublicKey, randomInt, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSigner, createVerifier, ExpiredError, httpbis, type VerifyingKey } from 'http-message-signatures';
import type {
  WireAccount,
  WireAccountWebhookEvent,
  WireCard,
  WireCardStatus,
  WireCreateAccount,
  WireCreateCard,
  WireFundsMovement,
  WireMoveFunds,
  WireWebhookEvent,
  WireWebhookType,
} from '../src/provider/http/wire.js';
import { Journal, type Failure, type Rule, type SimCard, type SimLoad } from './journal.js';

/** Fault switches, set per test with `PUT /v1/simulator/faults` (docs/provider.md). Rates are 0..1. */
export interface Faults {
  latency_ms: number;
  /** Answer 500 before doing anything. */
  error_rate: number;
  /** Do the work, then answer only after `late_ms` (the client has given up; the card exists). */
  late_rate: number;
  late_ms: number;
  /** Do the work, then reset the connection instead of answering. */
  reset_rate: number;
  /** Send each webhook twice. */
  webhook_duplicate_rate: number;
  /** Hold each webhook a random 0..webhook_reorder_ms, so they arrive out of order. */
  webhook_reorder_ms: number;
}

export const NO_FAULTS: Faults = {
  latency_ms: 0,
  error_rate: 0,
  late_rate: 0,
  late_ms: 0,
  reset_rate: 0,
  webhook_duplicate_rate: 0,
  webhook_reorder_ms: 0,
};

export interface SimulatorOptions {
  dataDir: string;
  apiKey: string;
  /** The gateway's public signing keys by keyid. */
  clientKeys: Map<string, KeyObject>;
  webhookKey: { keyId: string; privateKey: KeyObject };
  /** Where webhooks go until `PUT /v1/simulator/webhooks` says otherwise. */
  webhookUrl?: string;
  signatureMaxAgeS: number;
  faults?: Partial<Faults>;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const DEFAULT_RULE: Rule = { card_issue: 'auto', topup_result: 'succeed', account_verification: 'verify' };
const BIN = '400000';
const WRITE_COMPONENTS = ['@method', '@target-uri', 'content-digest', 'idempotency-key'];
const READ_COMPONENTS = ['@method', '@target-uri'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The card provider simulator: the issuing platform's API of seeds 000/001/004 plus the endpoints
 * docs/provider.md defines, checking every request as the platform would (bearer credential,
 * Content-Digest, RFC 9421 signature, Idempotency-Key), with fault switches for tests.
 */
export class ProviderSimulator {
  private readonly journal: Journal;
  private faults: Faults;
  private webhookUrl: string | undefined;
  private readonly inFlight = new Set<string>();
  private readonly deliveries = new Set<Promise<void>>();
  private server: Server | undefined;

  constructor(private readonly options: SimulatorOptions) {
    this.journal = new Journal(options.dataDir);
    this.faults = { ...NO_FAULTS, ...options.faults };
    this.webhookUrl = options.webhookUrl;
  }

  listen(host: string, port: number): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5_000;
    this.server = server;
    return new Promise((resolve) => {
      server.listen(port, host, () => {
        const address = server.address();
        resolve(`http://${host}:${typeof address === 'object' && address ? address.port : port}`);
      });
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await Promise.allSettled([...this.deliveries]);
    this.journal.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    const control = url.pathname.startsWith('/v1/simulator/') && !/^\/v1\/simulator\/cards\/[^/]+\/(issue|fail)$/.test(url.pathname);
    try {
      if (req.headers.authorization !== `Bearer ${this.options.apiKey}`) throw new Refusal(401, 'unauthorized', 'missing or wrong bearer credential');
      if (control) return send(res, 200, this.control(req.method ?? 'GET', url, body));
      await this.verify(req, url, body);
      if (this.faults.latency_ms > 0) await sleep(this.faults.latency_ms);
      if (Math.random() < this.faults.error_rate) throw new Refusal(500, 'internal_error', 'simulated provider error');
      const write = req.method !== 'GET';
      const [status, answer] = write ? this.idempotent(req, url, body) : this.route('GET', url, body);
      if (Math.random() < this.faults.reset_rate) {
        req.socket.destroy();
        return;
      }
      if (Math.random() < this.faults.late_rate) await sleep(this.faults.late_ms);
      send(res, status, answer);
    } catch (err) {
      if (err instanceof Refusal) return send(res, err.status, { code: err.code, message: err.message });
      send(res, 500, { code: 'internal_error', message: 'simulator failure' });
    }
  }

  /** RFC 9530 digest and RFC 9421 signature, as the platform requires of every request. */
  private async verify(req: IncomingMessage, url: URL, body: Buffer): Promise<void> {
    const write = req.method !== 'GET';
    const headers = flatHeaders(req);
    if (write) {
      const key = headers['idempotency-key'];
      if (!key || !UUID.test(key)) throw new Refusal(400, 'idempotency_key_invalid', 'Idempotency-Key must be a UUID');
      const expected = `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
      if (headers['content-digest'] !== expected) throw new Refusal(400, 'content_digest_mismatch', 'Content-Digest does not match the body');
    }
    let known = false;
    let valid: boolean | null;
    try {
      valid = await httpbis.verifyMessage(
        {
          keyLookup: (params): Promise<VerifyingKey | null> => {
            const key = typeof params.keyid === 'string' ? this.options.clientKeys.get(params.keyid) : undefined;
            known = key !== undefined;
            return Promise.resolve(key ? { id: params.keyid as string, algs: ['ed25519'], verify: createVerifier(key, 'ed25519') } : null);
          },
          requiredParams: ['created', 'keyid'],
          requiredFields: write ? WRITE_COMPONENTS : READ_COMPONENTS,
          maxAge: this.options.signatureMaxAgeS,
          tolerance: 5,
        },
        { method: req.method ?? 'GET', url: url.toString(), headers },
      );
    } catch (err) {
      throw new Refusal(401, err instanceof ExpiredError ? 'signature_expired' : 'signature_invalid', 'the request signature does not verify');
    }
    if (valid === null) throw new Refusal(401, known ? 'signature_missing' : 'signature_unknown_key', 'no signature by a known key');
    if (!valid) throw new Refusal(401, 'signature_invalid', 'the request signature does not verify');
  }

  /** Same key + same request: the first answer again. Same key + another request: refused. */
  private idempotent(req: IncomingMessage, url: URL, body: Buffer): [number, unknown] {
    const key = req.headers['idempotency-key'] as string;
    const fingerprint = createHash('sha256').update(`${req.method} ${url.pathname}\n`).update(body).digest('base64');
    const stored = this.journal.answers.get(key);
    if (stored) {
      if (stored.fingerprint !== fingerprint) throw new Refusal(422, 'idempotency_key_reused', 'this Idempotency-Key was used for another request');
      return [stored.status, stored.body];
    }
    if (this.inFlight.has(key)) throw new Refusal(409, 'idempotency_key_in_use', 'a request with this Idempotency-Key is in progress');
    this.inFlight.add(key);
    try {
      const [status, answer, after] = this.route(req.method ?? 'POST', url, body, key);
      // 5xx-like refusals are not stored: the caller retries them with the same key.
      this.journal.answer(key, { fingerprint, status, body: answer });
      after?.();
      return [status, answer];
    } catch (err) {
      if (err instanceof Refusal && err.status < 500 && err.status !== 409 && err.status !== 429) {
        this.journal.answer(key, { fingerprint, status: err.status, body: { code: err.code, message: err.message } });
      }
      throw err;
    } finally {
      this.inFlight.delete(key);
    }
  }

  /** [status, body, what happens after the answer is stored]. */
  private route(method: string, url: URL, raw: Buffer, key?: string): [number, unknown, (() => void)?] {
    const p = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const json = (): unknown => (raw.length > 0 ? JSON.parse(raw.toString('utf8')) : {});
    // Ids sit at every other segment after the resource (after /v1/simulator for the simulator's own).
    const shift = p[1] === 'simulator' ? 1 : 0;
    const route = `${method} /${p.map((s, i) => (i >= 2 + shift && (i - shift) % 2 === 0 ? ':' : s)).join('/')}`;
    switch (route) {
      case 'POST /v1/accounts':
        return this.createAccount(json() as WireCreateAccount);
      case 'GET /v1/accounts/:':
        return [200, this.account(p[2]!)];
      case 'POST /v1/accounts/:/cards':
        return this.createCard(p[2]!, json() as WireCreateCard, key!);
      case 'GET /v1/accounts/:/cards':
        return [200, this.page([...this.journal.cards.values()].filter((c) => c.accountId === p[2]), url)];
      case 'GET /v1/cards':
        return [200, this.page([...this.journal.cards.values()], url)];
      case 'GET /v1/cards/:':
        return [200, wire(this.card(p[2]!))];
      case 'GET /v1/cards/:/sensitive': {
        const c = this.card(p[2]!);
        return [200, { pan: c.pan, cvv: c.cvv, expirationDate: c.expirationDate }];
      }
      case 'GET /v1/cards/:/loads/:': {
        const load = this.journal.loads.get(p[4]!);
        if (!load || load.cardId !== p[2]) throw new Refusal(404, 'load_not_found', 'no such load on this card');
        return [200, { ...movement(load), status: load.verified }];
      }
      case 'POST /v1/cards/:/load':
      case 'POST /v1/cards/:/unload':
        return [201, this.moveFunds(p[2]!, p[3] as 'load' | 'unload', json() as WireMoveFunds, key!)];
      case 'PATCH /v1/cards/:/deactivate':
        return [200, this.change(p[2]!, ['active', 'inactive'], 'inactive', 'card.deactivated')];
      case 'PATCH /v1/cards/:/activate':
        return [200, this.change(p[2]!, ['active', 'inactive'], 'active', 'card.activated')];
      case 'DELETE /v1/cards/:':
        return [200, this.change(p[2]!, ['active', 'inactive', 'terminated'], 'terminated', 'card.terminated')];
      case 'PATCH /v1/simulator/cards/:/issue':
      case 'PATCH /v1/simulator/cards/:/fail': {
        const outcome = p[4] === 'issue' ? 'active' : 'failed';
        this.change(p[3]!, ['issuing', outcome], outcome, outcome === 'active' ? 'card.issued' : 'card.failed');
        return [202, undefined];
      }
      default:
        throw new Refusal(404, 'not_found', 'no such endpoint');
    }
  }

  /** One account per reference; a new one answers `pending`, then the rule's verification follows. */
  private createAccount(request: WireCreateAccount): [number, WireAccount, (() => void)?] {
    if (typeof request.reference !== 'string' || request.reference.length === 0) throw new Refusal(400, 'invalid_request', 'reference is required');
    const existing = this.journal.accountByReference.get(request.reference);
    if (existing) return [201, this.journal.accounts.get(existing)!];
    const account: WireAccount = { id: randomUUID(), reference: request.reference, name: request.name, status: 'pending', createdAt: new Date().toISOString() };
    this.journal.account(account);
    const verification = this.rule(request.reference).account_verification;
    const settle = () => {
      if (verification !== 'hold') this.settleAccount(account.id, verification === 'verify' ? 'active' : 'rejected');
    };
    return [201, account, settle];
  }

  private account(accountId: string): WireAccount {
    const account = this.journal.accounts.get(accountId);
    if (!account) throw new Refusal(404, 'account_not_found', 'no such account');
    return account;
  }

  /** A pending account verified or rejected, announced by a webhook. */
  private settleAccount(accountId: string, to: 'active' | 'rejected'): WireAccount {
    const account = this.account(accountId);
    if (account.status === to) return account;
    if (account.status !== 'pending') throw new Refusal(409, 'account_state_conflict', `the account is ${account.status}`);
    const settled: WireAccount = { ...account, status: to };
    this.journal.account(settled);
    this.post({ id: randomUUID(), type: to === 'active' ? 'account.verified' : 'account.rejected', createdAt: new Date().toISOString(), data: { account: settled } });
    return settled;
  }

  private createCard(accountId: string, request: WireCreateCard, key: string): [number, unknown, () => void] {
    const account = this.journal.accounts.get(accountId);
    if (!account) throw new Refusal(404, 'account_not_found', 'no such account');
    if (request.type !== 'virtual' || !request.billingAddress || !request.currency) throw new Refusal(400, 'invalid_request', 'a virtual card needs billingAddress and currency');
    const rule = this.rule(account.reference);
    this.maybeFail(key, rule.create_card_failure);
    const now = new Date();
    const number = `${BIN}${String(randomInt(0, 1_000_000_000)).padStart(9, '0')}`;
    const pan = number + luhnDigit(number);
    const card: SimCard = {
      id: randomUUID(),
      accountId,
      type: 'virtual',
      externalId: request.externalId,
      network: 'visa',
      maskedPan: `${pan.slice(0, 6)}******${pan.slice(-4)}`,
      expirationDate: `${String(now.getUTCMonth() + 1).padStart(2, '0')}/${now.getUTCFullYear() + 3}`,
      billingAddress: request.billingAddress,
      currency: request.currency,
      balance: 0,
      status: 'issuing',
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      pan,
      cvv: String(randomInt(0, 1000)).padStart(3, '0'),
    };
    this.journal.card(card);
    // As in the seeds, the answer says `issuing`; the platform then issues (or fails) the card.
    const settle = () => {
      if (rule.card_issue === 'auto') this.change(card.id, ['issuing'], 'active', 'card.issued');
      else if (rule.card_issue === 'fail') this.change(card.id, ['issuing'], 'failed', 'card.failed');
    };
    return [201, wire(card), settle];
  }

  private moveFunds(cardId: string, direction: 'load' | 'unload', request: WireMoveFunds, key: string): WireFundsMovement {
    const card = this.card(cardId);
    if (!Number.isInteger(request.amount) || request.amount <= 0) throw new Refusal(400, 'invalid_request', 'amount must be a positive integer');
    const rule = this.rule(this.journal.accounts.get(card.accountId)?.reference ?? '');
    this.maybeFail(key, rule.topup_failure);
    const refused =
      card.status !== 'active' || request.currency !== card.currency || rule.topup_result === 'fail' || (direction === 'unload' && card.balance < request.amount);
    const status = refused ? 'failed' : 'succeeded';
    const verified = rule.topup_result === 'verify_fail' ? 'failed' : status;
    const load: SimLoad = { id: randomUUID(), cardId, direction, amount: request.amount, currency: request.currency, status, verified, createdAt: new Date().toISOString() };
    this.journal.load(load);
    if (verified === 'succeeded') {
      this.journal.card({ ...card, balance: card.balance + (direction === 'load' ? load.amount : -load.amount), updatedAt: load.createdAt });
    }
    return movement(load);
  }

  /** A status change allowed only `from` the listed statuses; announced by a webhook when it changes anything. */
  private change(cardId: string, from: WireCardStatus[], to: WireCardStatus, event: WireWebhookType): WireCard {
    const card = this.card(cardId);
    if (!from.includes(card.status)) throw new Refusal(409, 'card_state_conflict', `the card is ${card.status}`);
    if (card.status === to) return wire(card);
    const changed: SimCard = { ...card, status: to, updatedAt: laterIso(card.updatedAt) };
    this.journal.card(changed);
    this.announce(event, changed);
    return wire(changed);
  }

  private card(cardId: string): SimCard {
    const card = this.journal.cards.get(cardId);
    if (!card) throw new Refusal(404, 'card_not_found', 'no such card');
    return card;
  }

  private page(cards: SimCard[], url: URL): { items: WireCard[]; nextPage?: number } {
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const size = Math.min(500, Math.max(1, Number(url.searchParams.get('pageSize') ?? 100) || 100));
    const items = cards.slice((page - 1) * size, page * size).map(wire);
    return { items, ...(page * size < cards.length && { nextPage: page + 1 }) };
  }

  private rule(reference: string): Rule {
    return this.journal.rules.get(reference) ?? DEFAULT_RULE;
  }

  /** Serves an injected failure while fewer than `times` were served for this key. */
  private maybeFail(key: string, injection: { failure: Failure; times: number } | undefined): void {
    if (!injection) return;
    if (injection.failure === 'declined') throw new Refusal(422, 'card_declined', 'simulated decline');
    if ((this.journal.failures.get(key) ?? 0) >= injection.times) return;
    this.journal.failed(key);
    throw injection.failure === 'timeout' ? new Refusal(504, 'upstream_timeout', 'simulated timeout') : new Refusal(503, 'unavailable', 'simulated outage');
  }

  /** The simulator's own endpoints: rules per account reference, fault switches, webhook target, state. */
  private control(method: string, url: URL, raw: Buffer): unknown {
    const body = raw.length > 0 ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
    const accountMatch = /^\/v1\/simulator\/accounts\/([^/]+)\/(verify|reject)$/.exec(url.pathname);
    if (accountMatch && method === 'PATCH') return this.settleAccount(decodeURIComponent(accountMatch[1]!), accountMatch[2] === 'verify' ? 'active' : 'rejected');
    const ruleMatch = /^\/v1\/simulator\/rules\/([^/]+)$/.exec(url.pathname);
    if (ruleMatch) {
      const reference = decodeURIComponent(ruleMatch[1]!);
      if (method === 'DELETE') {
        this.journal.rule(reference, null);
        return { reference, ...DEFAULT_RULE };
      }
      const rule = parseRule(body);
      this.journal.rule(reference, rule);
      return { reference, ...rule };
    }
    switch (`${method} ${url.pathname}`) {
      case 'PUT /v1/simulator/faults':
        this.faults = { ...NO_FAULTS, ...(body as Partial<Faults>) };
        return this.faults;
      case 'PUT /v1/simulator/webhooks':
        this.webhookUrl = typeof body.url === 'string' ? body.url : undefined;
        return { url: this.webhookUrl ?? null };
      case 'GET /v1/simulator/accounts':
        return [...this.journal.accounts.values()];
      case 'GET /v1/simulator/state':
        return { cards: [...this.journal.cards.values()].map(wire), loads: [...this.journal.loads.values()], accounts: this.journal.accounts.size };
      default:
        throw new Refusal(404, 'not_found', 'no such simulator endpoint');
    }
  }

  private announce(type: WireWebhookType, card: SimCard): void {
    this.post({ id: randomUUID(), type, createdAt: new Date().toISOString(), data: { card: wire(card) } });
  }

  /** Signs and posts an event to the gateway, with retries; faults may duplicate or delay it. */
  private post(event: WireWebhookEvent | WireAccountWebhookEvent): void {
    if (!this.webhookUrl) return;
    const copies = Math.random() < this.faults.webhook_duplicate_rate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delivery = this.deliver(this.webhookUrl, event, Math.random() * this.faults.webhook_reorder_ms);
      this.deliveries.add(delivery);
      void delivery.finally(() => this.deliveries.delete(delivery));
    }
  }

  private async deliver(target: string, event: WireWebhookEvent | WireAccountWebhookEvent, delayMs: number): Promise<void> {
    await sleep(delayMs);
    const body = Buffer.from(JSON.stringify(event));
    for (let attempt = 0; attempt < 5; attempt++) {
      if (attempt > 0) await sleep(100 * 2 ** attempt);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'content-digest': `sha-256=:${createHash('sha256').update(body).digest('base64')}:`,
      };
      const signed = await httpbis.signMessage(
        {
          key: createSigner(this.options.webhookKey.privateKey, 'ed25519', this.options.webhookKey.keyId),
          name: 'sig1',
          fields: ['@method', '@path', 'content-digest'],
          params: ['created', 'keyid', 'alg'],
        },
        { method: 'POST', url: target, headers },
      );
      const status = await post(target, signed.headers, body).catch(() => 0);
      if (status >= 200 && status < 300) return;
      if (status >= 400 && status < 500) return;
    }
  }
}

export function publicJwk(key: KeyObject): Record<string, unknown> {
  return createPublicKey(key).export({ format: 'jwk' });
}

function parseRule(body: Record<string, unknown>): Rule {
  const rule: Rule = {
    card_issue: body.card_issue === 'hold' || body.card_issue === 'fail' ? body.card_issue : 'auto',
    topup_result: body.topup_result === 'fail' || body.topup_result === 'verify_fail' ? body.topup_result : 'succeed',
    account_verification: body.account_verification === 'reject' || body.account_verification === 'hold' ? body.account_verification : 'verify',
  };
  if (body.create_card_failure) rule.create_card_failure = body.create_card_failure as Rule['create_card_failure'];
  if (body.topup_failure) rule.topup_failure = body.topup_failure as Rule['topup_failure'];
  return rule;
}

function wire(card: SimCard): WireCard {
  const view: Partial<SimCard> = { ...card };
  delete view.pan;
  delete view.cvv;
  return view as WireCard;
}

function movement(load: SimLoad): WireFundsMovement {
  const view: Partial<SimLoad> = { ...load };
  delete view.verified;
  return view as WireFundsMovement;
}

/** Event order is by updatedAt: each change is strictly later than the one before, even within a millisecond. */
function laterIso(previous: string): string {
  return new Date(Math.max(Date.now(), Date.parse(previous) + 1)).toISOString();
}

function luhnDigit(digits: string): string {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function post(target: string, headers: Record<string, string | string[]>, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(target, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) }, timeout: 5_000 });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', reject);
    req.once('response', (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.end(body);
  });
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
