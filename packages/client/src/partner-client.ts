import { createHash, randomUUID } from 'node:crypto';
import {
  JoseFailure,
  importPrivateKey,
  importPublicKey,
  isKeyManagementAlg,
  isSignatureAlg,
  openNested,
  signThenEncrypt,
  type DecryptionKey,
  type EncryptionKey,
  type KeyManagementAlg,
  type KeyMaterial,
  type SignatureAlg,
  type SigningKey,
  type VerificationKey,
} from './jose/index.js';
import { GatewayApiError, GatewayResponseError, WaitTimeoutError, WebhookEventError } from './errors.js';
import type {
  BalanceAndStatement,
  BalanceRequest,
  CardData,
  Cardholder,
  CardChangeRequest,
  CardList,
  CheckOrderRequest,
  CreateCardRequest,
  CreateCardholderRequest,
  GatewayResponse,
  GetCardholderRequest,
  GetCardRequest,
  ListCardsRequest,
  ListOrdersRequest,
  MoveFundsRequest,
  OrderList,
  PartnerOrder,
  WebhookEvent,
} from './types.js';

export interface PartnerClientOptions {
  /** The gateway's base URL, e.g. https://gateway.example.com */
  baseUrl: string;
  /** The project id: the `iss` of every request. */
  projectId: string;
  /** The key requests are signed with; its kid and alg as registered with the gateway. */
  signingKey: { kid: string; alg: SignatureAlg; privateKey: KeyMaterial };
  /**
   * The private halves of the project's registered encryption keys, which responses are encrypted
   * to. Several during a rotation: the gateway uses the newest active one.
   */
  encryptionKeys: { kid: string; alg: KeyManagementAlg; privateKey: KeyMaterial }[];
  /** The gateway's audience string (default `card-gateway`). */
  audience?: string;
  /** Which of the gateway's encryption algorithms to use when it offers several (default: its first). */
  gatewayEncryptionAlg?: KeyManagementAlg;
  /**
   * How far a sealed answer's `iat` may lie from this client's clock (default 300 s). The answer is
   * bound to its request by the request's hash anyway; this refuses answers held back for long.
   */
  answerMaxSkewS?: number;
  /**
   * How old (or how far ahead of this client's clock) a webhook event's seal may be (default
   * 300 s). The gateway seals each delivery attempt anew, so only a captured event replayed
   * later, or a clock far off, falls outside it.
   */
  eventMaxAgeS?: number;
  /** How long the gateway's JWKS is trusted before it is fetched again (default 5 minutes). */
  jwksTtlMs?: number;
  fetch?: typeof fetch;
  /** The clock for `iat` (tests). */
  now?: () => number;
}

export interface WaitOptions {
  /** How long to keep reading (default 60 s). */
  timeoutMs?: number;
}

export interface CallOptions {
  idempotencyKey?: string;
  /** Sent as X-Request-Id, to find the request in the gateway's logs. */
  requestId?: string;
  signal?: AbortSignal;
}

/** What the client puts inside the signed token; exposed for tests and tools that craft requests. */
export interface RequestClaims {
  iss: string;
  aud: string;
  iat: number;
  jti: string;
  htm: string;
  htu: string;
  idk?: string;
  body: unknown;
}

/** A webhook request's headers: Node's `req.headers`, a fetch `Headers`, or a plain object (any case). */
export type EventHeaders = Headers | Record<string, string | string[] | undefined>;

function headerValue(headers: EventHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? undefined : value;
  }
  return undefined;
}

interface GatewayKeySet {
  encryption: EncryptionKey;
  verification: Map<string, VerificationKey>;
  fetchedAt: number;
}

const JOSE = 'application/jose';

/** What an answer must be bound to: the request as this client sent it. */
interface SentRequest {
  jti: string;
  htu: string;
  /** base64url SHA-256 of the JWE sent as the body. */
  hash: string;
}

/**
 * A typed client for the partner API. It signs and encrypts each request (contract section 2),
 * sends it, and gives back only answers it could decrypt and verify against the gateway's JWKS;
 * error answers become GatewayApiError with the slug.
 */
export class PartnerClient {
  private readonly baseUrl: string;
  private readonly signer: SigningKey;
  private readonly decryptionKeys: Map<string, DecryptionKey>;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private gatewayKeys: GatewayKeySet | undefined;
  private fetchingKeys: Promise<GatewayKeySet> | undefined;

  constructor(private readonly options: PartnerClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.signer = { kid: options.signingKey.kid, alg: options.signingKey.alg, key: importPrivateKey(options.signingKey.privateKey, options.signingKey.alg) };
    this.decryptionKeys = new Map(
      options.encryptionKeys.map((k) => [k.kid, { kid: k.kid, alg: k.alg, key: importPrivateKey(k.privateKey, k.alg) }]),
    );
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.now = options.now ?? Date.now;
  }

  /** Orders a virtual card. A missing idempotency key is generated (keep it to retry safely). */
  createCard(body: CreateCardRequest, options: CallOptions = {}): Promise<GatewayResponse<PartnerOrder>> {
    return this.call<PartnerOrder>('/api/v1/cards/create', body, { ...options, idempotencyKey: options.idempotencyKey ?? randomUUID() });
  }

  /**
   * Loads a card from the master balance: an order (card_topup) charged at once, then carried to the
   * provider; follow it with checkOrder. A missing idempotency key is generated.
   */
  topUp(body: MoveFundsRequest, options: CallOptions = {}): Promise<GatewayResponse<PartnerOrder>> {
    return this.cardOperation('/api/v1/cards/topup', body, options);
  }

  /** Unloads a card back to the master balance (card_withdraw), credited once the provider confirmed. */
  withdraw(body: MoveFundsRequest, options: CallOptions = {}): Promise<GatewayResponse<PartnerOrder>> {
    return this.cardOperation('/api/v1/cards/withdraw', body, options);
  }

  /** Freezes an active card (card_freeze). */
  freeze(body: CardChangeRequest, options: CallOptions = {}): Promise<GatewayResponse<PartnerOrder>> {
    return this.cardOperation('/api/v1/cards/freeze', body, options);
  }

  /** Unfreezes a frozen card (card_unfreeze). */
  unfreeze(body: CardChangeRequest, options: CallOptions = {}): Promise<GatewayResponse<PartnerOrder>> {
    return this.cardOperation('/api/v1/cards/unfreeze', body, options);
  }

  /** Terminates a card for good (card_terminate). */
  terminate(body: CardChangeRequest, options: CallOptions = {}): Promise<GatewayResponse<PartnerOrder>> {
    return this.cardOperation('/api/v1/cards/terminate', body, options);
  }

  checkOrder(body: CheckOrderRequest, options: CallOptions = {}): Promise<GatewayResponse<PartnerOrder>> {
    return this.call<PartnerOrder>('/api/v1/orders/check', body, options);
  }

  /**
   * Reads the order with orders/check until it has ended (`completed` or `failed`: look at its
   * `status`), backing off from 250 ms to 2 s between reads. Throws WaitTimeoutError after
   * `timeoutMs` (default 60 s): the order goes on at the gateway, read it again later.
   */
  waitForOrder(body: CheckOrderRequest, options: WaitOptions = {}): Promise<GatewayResponse<PartnerOrder>> {
    return this.poll(() => this.checkOrder(body), (order) => order.status === 'completed' || order.status === 'failed', 'the order to end', options);
  }

  /**
   * Reads the cardholder with cardholders/get until the provider's verdict is in (`verified` or
   * `rejected`), backing off like waitForOrder. Webhooks (`cardholder.verified`,
   * `cardholder.rejected`) tell the same without asking.
   */
  waitForCardholder(body: GetCardholderRequest, options: WaitOptions = {}): Promise<GatewayResponse<Cardholder>> {
    return this.poll(() => this.getCardholder(body), (holder) => holder.status !== 'pending', 'the cardholder verdict', options);
  }

  private async poll<T>(read: () => Promise<GatewayResponse<T>>, done: (data: T) => boolean, what: string, options: WaitOptions): Promise<GatewayResponse<T>> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (let pause = 250; ; pause = Math.min(pause * 2, 2_000)) {
      const answer = await read();
      if (done(answer.data)) return answer;
      if (Date.now() + pause > deadline) throw new WaitTimeoutError(`gave up waiting for ${what} after ${options.timeoutMs ?? 60_000} ms`);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }

  /** The project's cards, newest first; pass `next_cursor` back as `cursor` for the next page. */
  listCards(body: ListCardsRequest = {}, options: CallOptions = {}): Promise<GatewayResponse<CardList>> {
    return this.call<CardList>('/api/v1/cards/list', body, options);
  }

  /** The project's orders, newest first, each with its refunds. */
  listOrders(body: ListOrdersRequest = {}, options: CallOptions = {}): Promise<GatewayResponse<OrderList>> {
    return this.call<OrderList>('/api/v1/orders/list', body, options);
  }

  /** The master balance and a page of the ledger behind it, newest entry first. */
  balance(body: BalanceRequest = {}, options: CallOptions = {}): Promise<GatewayResponse<BalanceAndStatement>> {
    return this.call<BalanceAndStatement>('/api/v1/balance', body, options);
  }

  getCard(body: GetCardRequest, options: CallOptions = {}): Promise<GatewayResponse<CardData>> {
    return this.call<CardData>('/api/v1/cards/get', body, options);
  }

  /**
   * Registers a user as a cardholder: 201 with a new one (`pending` until the provider verifies
   * it), 200 with the one the project already has for this external_user_id (safe to repeat).
   */
  createCardholder(body: CreateCardholderRequest, options: CallOptions = {}): Promise<GatewayResponse<Cardholder>> {
    return this.call<Cardholder>('/api/v1/cardholders/create', body, options);
  }

  /** A cardholder of the project by external_user_id; `cardholder_not_found` otherwise. */
  getCardholder(body: GetCardholderRequest, options: CallOptions = {}): Promise<GatewayResponse<Cardholder>> {
    return this.call<Cardholder>('/api/v1/cardholders/get', body, options);
  }

  private cardOperation(path: string, body: MoveFundsRequest | CardChangeRequest, options: CallOptions): Promise<GatewayResponse<PartnerOrder>> {
    return this.call<PartnerOrder>(path, body, { ...options, idempotencyKey: options.idempotencyKey ?? randomUUID() });
  }

  /** Any partner endpoint: seals `body`, sends it, opens and checks the answer. */
  async call<T>(path: string, body: unknown, options: CallOptions = {}): Promise<GatewayResponse<T>> {
    try {
      return await this.attempt<T>(path, body, options);
    } catch (err) {
      // The gateway rotated its encryption keys since we fetched them: fetch again, once.
      if (err instanceof GatewayApiError && err.slug === 'unknown_key_id' && !err.sealed) {
        this.gatewayKeys = undefined;
        return this.attempt<T>(path, body, options);
      }
      throw err;
    }
  }

  /** The claims of a request to `path`, with a fresh jti and the current time. */
  claims(path: string, body: unknown, idempotencyKey?: string): RequestClaims {
    return {
      iss: this.options.projectId,
      aud: this.options.audience ?? 'card-gateway',
      iat: Math.floor(this.now() / 1000),
      jti: randomUUID(),
      htm: 'POST',
      htu: path,
      ...(idempotencyKey === undefined ? {} : { idk: idempotencyKey }),
      body,
    };
  }

  /** Signs and encrypts arbitrary claims to the gateway (tests use it to craft requests). */
  async seal(claims: object): Promise<string> {
    const keys = await this.keys();
    return signThenEncrypt(Buffer.from(JSON.stringify(claims), 'utf8'), this.signer, keys.encryption);
  }

  /** Opens a sealed answer of the gateway: decrypt with our key, verify with the gateway's. */
  async open(token: string): Promise<Record<string, unknown>> {
    const opened = await openNested(
      token,
      (kid) => this.decryptionKeys.get(kid),
      async (header) => {
        let key = (await this.keys()).verification.get(header.kid);
        if (!key) {
          this.gatewayKeys = undefined; // the gateway may have rotated its signing key
          key = (await this.keys()).verification.get(header.kid);
        }
        if (!key) throw new JoseFailure('invalid_signature', 'response signed by a key outside the gateway JWKS');
        return key;
      },
    );
    return opened.claims;
  }

  /**
   * Opens a webhook request: decrypts its body (`application/jose`) with our keys, verifies the
   * gateway's signature, and checks what is signed in with the event (docs/partner-api.md,
   * "Opening an event"): a webhook event, from this gateway, for this project, sealed within
   * `eventMaxAgeS`, and, given the request's headers, that `Webhook-Id` and `Webhook-Type` name
   * the sealed event. Throws WebhookEventError (with its `reason`) otherwise.
   */
  async openEvent(body: string | Uint8Array, headers?: EventHeaders): Promise<WebhookEvent> {
    let payload: Record<string, unknown>;
    try {
      payload = await this.open((typeof body === 'string' ? body : Buffer.from(body).toString('latin1')).trim());
    } catch (err) {
      if (err instanceof JoseFailure) throw new WebhookEventError('unopenable', `the event could not be opened (${err.reason})`);
      throw err;
    }
    if (payload.kind !== 'webhook_event') throw new WebhookEventError('not_an_event', 'the sealed message is not a webhook event');
    if (payload.iss !== (this.options.audience ?? 'card-gateway')) throw new WebhookEventError('wrong_gateway', 'the event was sealed by another gateway');
    if (payload.aud !== this.options.projectId) throw new WebhookEventError('other_project', 'the event is for another project');
    const maxAge = this.options.eventMaxAgeS ?? 300;
    const age = this.now() / 1000 - (typeof payload.iat === 'number' ? payload.iat : Number.NaN);
    if (!(Math.abs(age) <= maxAge)) throw new WebhookEventError('stale', `the event was not sealed within the last ${maxAge} s`);
    const event = payload.event as Partial<WebhookEvent> | undefined;
    if (!event || typeof event.id !== 'string' || typeof event.type !== 'string' || typeof event.sequence !== 'number' || typeof event.data !== 'object') {
      throw new WebhookEventError('not_an_event', 'the sealed body is not an event');
    }
    if (event.project_id !== this.options.projectId) throw new WebhookEventError('other_project', 'the event is for another project');
    if (headers !== undefined) {
      for (const [name, sealed] of [['webhook-id', event.id], ['webhook-type', event.type]] as const) {
        if (headerValue(headers, name) !== sealed) throw new WebhookEventError('header_mismatch', `the ${name} header does not name the sealed event`);
      }
    }
    return event as WebhookEvent;
  }

  private async attempt<T>(path: string, body: unknown, options: CallOptions): Promise<GatewayResponse<T>> {
    const claims = this.claims(path, body, options.idempotencyKey);
    const token = await this.seal(claims);
    const headers: Record<string, string> = { 'Content-Type': JOSE, Accept: `${JOSE}, application/json` };
    if (options.idempotencyKey !== undefined) headers['Idempotency-Key'] = options.idempotencyKey;
    if (options.requestId !== undefined) headers['X-Request-Id'] = options.requestId;
    const response = await this.fetch(`${this.baseUrl}${path}`, { method: 'POST', headers, body: token, signal: options.signal });
    return this.read<T>(response, { jti: claims.jti, htu: claims.htu, hash: createHash('sha256').update(token, 'ascii').digest('base64url') });
  }

  /**
   * A sealed answer must say, inside the signature, that it answers this very request (contract
   * section 2, Response binding): otherwise it is a genuine answer to another request, swapped in.
   */
  private bindingProblem(payload: Record<string, unknown>, sent: SentRequest, status: number): string | undefined {
    if (payload.iss !== (this.options.audience ?? 'card-gateway')) return 'iss is not the gateway';
    if (payload.aud !== this.options.projectId) return 'aud is not this project';
    if (payload.req_sha256 !== sent.hash) return 'req_sha256 does not match the request sent';
    if (payload.req_jti !== sent.jti) return 'req_jti does not match the request sent';
    if (payload.req_htu !== sent.htu) return 'req_htu does not match the request sent';
    if (payload.status !== status) return 'status does not match the HTTP status';
    if (typeof payload.replayed !== 'boolean') return 'replayed is missing';
    const iat = payload.iat;
    if (typeof iat !== 'number' || Math.abs(this.now() / 1000 - iat) > (this.options.answerMaxSkewS ?? 300)) return 'iat outside the accepted window';
    return undefined;
  }

  private async read<T>(response: Response, sent: SentRequest): Promise<GatewayResponse<T>> {
    const requestId = response.headers.get('x-request-id') ?? undefined;
    const mediaType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const text = await response.text();
    const fail = (why: string) => new GatewayResponseError(why, response.status, requestId);

    if (mediaType === 'application/json') {
      // Only refusals before authentication are plain; a plain success would be unauthenticated.
      if (response.ok) throw fail('the gateway answered a success without sealing it');
      throw toApiError(parseJson(text), response.status, requestId, false) ?? fail('unexpected error body');
    }
    if (mediaType !== JOSE) throw fail(`unexpected content type ${mediaType || '(none)'}`);

    let payload: Record<string, unknown>;
    try {
      payload = await this.open(text);
    } catch (err) {
      if (err instanceof JoseFailure) throw fail(`the answer could not be opened (${err.reason})`);
      throw err;
    }
    const mismatch = this.bindingProblem(payload, sent, response.status);
    if (mismatch) throw fail(`the sealed answer is not bound to this request (${mismatch})`);
    if (response.ok && Object.hasOwn(payload, 'data')) {
      return {
        status: response.status,
        data: payload.data as T,
        requestId: requestId ?? '',
        // From inside the seal: the header travels outside it and could have been changed.
        idempotentReplayed: payload.replayed === true,
      };
    }
    if (!response.ok) {
      const error = toApiError(payload, response.status, requestId, true);
      if (error) throw error;
    }
    throw fail('the sealed answer has neither data nor error');
  }

  private async keys(): Promise<GatewayKeySet> {
    const ttl = this.options.jwksTtlMs ?? 300_000;
    if (this.gatewayKeys && this.now() - this.gatewayKeys.fetchedAt < ttl) return this.gatewayKeys;
    this.fetchingKeys ??= this.fetchKeys().finally(() => {
      this.fetchingKeys = undefined;
    });
    this.gatewayKeys = await this.fetchingKeys;
    return this.gatewayKeys;
  }

  private async fetchKeys(): Promise<GatewayKeySet> {
    const response = await this.fetch(`${this.baseUrl}/.well-known/jwks.json`, { headers: { Accept: 'application/json' } });
    if (!response.ok) throw new GatewayResponseError(`the gateway JWKS answered ${response.status}`, response.status, undefined);
    const jwks = parseJson(await response.text()) as { keys?: unknown } | undefined;
    if (!jwks || !Array.isArray(jwks.keys)) throw new GatewayResponseError('the gateway JWKS is not a JWKS', response.status, undefined);

    const encryption: EncryptionKey[] = [];
    const verification = new Map<string, VerificationKey>();
    for (const jwk of jwks.keys as Record<string, unknown>[]) {
      const { kid, alg, use } = jwk;
      if (typeof kid !== 'string') continue;
      const publicMembers = Object.fromEntries(Object.entries(jwk).filter(([k]) => !['kid', 'alg', 'use', 'key_ops'].includes(k)));
      try {
        if (use === 'enc' && isKeyManagementAlg(alg)) encryption.push({ kid, alg, key: importPublicKey(publicMembers, alg) });
        if (use === 'sig' && isSignatureAlg(alg)) verification.set(kid, { kid, alg, key: importPublicKey(publicMembers, alg) });
      } catch {
        // A key we cannot use (unknown type or too small) is skipped, not fatal.
      }
    }
    const preferred = this.options.gatewayEncryptionAlg;
    const chosen = (preferred && encryption.find((k) => k.alg === preferred)) || encryption[0];
    if (!chosen) throw new GatewayResponseError('the gateway JWKS has no usable encryption key', response.status, undefined);
    return { encryption: chosen, verification, fetchedAt: this.now() };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function toApiError(payload: unknown, status: number, requestId: string | undefined, sealed: boolean): GatewayApiError | undefined {
  const error = (payload as { error?: unknown } | undefined)?.error as Record<string, unknown> | undefined;
  if (!error || typeof error.slug !== 'string') return undefined;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const issues = Array.isArray(error.issues) ? (error.issues as { path: string; message: string }[]) : undefined;
  return new GatewayApiError(error.slug, status, str(error.message) ?? error.slug, str(error.request_id) ?? requestId, str(error.order_id), sealed, issues);
}
