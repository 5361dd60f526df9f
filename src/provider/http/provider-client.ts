import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { createHash, type KeyObject } from 'node:crypto';
import { ProviderError } from '../card-provider.js';
import { contentDigest, signMessage } from './message-signature.js';
import { SIGNED_READ_COMPONENTS, SIGNED_WRITE_COMPONENTS, type WireError } from './wire.js';

export interface ProviderLinkOptions {
  baseUrl: string;
  apiKey: string;
  keyId: string;
  privateKey: KeyObject;
  /** One HTTP exchange, connect to last byte. */
  requestTimeoutMs: number;
  /** Exchanges per call, the first included. */
  attempts: number;
  retryBaseMs: number;
}

export interface ProviderResponse<T> {
  status: number;
  body: T;
}

/**
 * The Idempotency-Key the provider sees for one of the gateway's keys (`<order>:<step>`): a UUID
 * (the provider requires one) derived by hashing, so a retry after a timeout or a crash sends the
 * same key again. Shaped as an RFC 9562 version 8 (custom) UUID.
 */
export function idempotencyUuid(key: string): string {
  const b = createHash('sha256').update(`card-gateway/provider-key\0${key}`).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** One exchange that gave no final answer: another attempt may. */
class ExchangeFailed extends Error {
  constructor(
    readonly kind: 'timeout' | 'connection' | 'status',
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * The gateway's HTTP link to the card provider: keep-alive connections, every request signed
 * (RFC 9421) with a Content-Digest (RFC 9530) and the bearer credential, a timeout per exchange,
 * and bounded retries with jitter on timeouts, connection errors, 5xx, 409 (the provider still
 * works on the same Idempotency-Key) and 429 (after Retry-After). Other 4xx are final. A write
 * carries an Idempotency-Key derived from the caller's key, the same on every retry, so it happens
 * at most once at the provider.
 */
export class ProviderClient {
  private readonly agent: Agent;
  private readonly base: URL;

  constructor(private readonly options: ProviderLinkOptions) {
    this.base = new URL(options.baseUrl);
    const agentOptions = { keepAlive: true, maxSockets: 64, keepAliveMsecs: 1_000 };
    this.agent = this.base.protocol === 'https:' ? new HttpsAgent(agentOptions) : new Agent(agentOptions);
  }

  async send<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, write?: { idempotencyKey: string; body?: unknown }): Promise<ProviderResponse<T>> {
    const url = new URL(path, this.base).toString();
    const body = write ? Buffer.from(JSON.stringify(write.body ?? {})) : undefined;
    let last: ExchangeFailed | undefined;
    for (let attempt = 1; attempt <= this.options.attempts; attempt++) {
      if (last) await sleep(last.retryAfterMs ?? this.backoff(attempt - 1));
      try {
        return await this.exchange<T>(method, url, body, write?.idempotencyKey);
      } catch (err) {
        if (!(err instanceof ExchangeFailed)) throw err;
        last = err;
      }
    }
    throw new ProviderError(last?.kind === 'timeout' ? 'timeout' : 'unavailable', true, `${last?.message ?? 'no answer'} (after ${this.options.attempts} attempts)`);
  }

  close(): void {
    this.agent.destroy();
  }

  private backoff(retry: number): number {
    const base = this.options.retryBaseMs * 2 ** (retry - 1);
    return base + Math.random() * base;
  }

  private async exchange<T>(method: string, url: string, body: Buffer | undefined, idempotencyKey: string | undefined): Promise<ProviderResponse<T>> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.options.apiKey}`,
      accept: 'application/json',
    };
    if (body) {
      headers['content-type'] = 'application/json';
      headers['content-digest'] = contentDigest(body);
      headers['idempotency-key'] = idempotencyUuid(idempotencyKey!);
    }
    const signed = await signMessage({ method, url, headers }, this.options, body ? SIGNED_WRITE_COMPONENTS : SIGNED_READ_COMPONENTS);
    const response = await this.roundTrip(method, url, signed, body);
    let parsed: unknown;
    try {
      parsed = response.text.length > 0 ? JSON.parse(response.text) : undefined;
    } catch {
      throw new ExchangeFailed('connection', `the provider's answer (${response.status}) is not JSON`);
    }
    if (response.status < 300) return { status: response.status, body: parsed as T };
    const error = parsed as Partial<WireError> | undefined;
    const what = `provider answered ${response.status} ${error?.code ?? ''}`.trim();
    // 504: the provider's own upstream timed out, a timeout for our retry policy too.
    if (response.status === 504) throw new ExchangeFailed('timeout', what);
    if (response.status >= 500) throw new ExchangeFailed('status', what);
    // 409 `idempotency_key_in_use`: the first request with this key is still being worked on.
    if ((response.status === 409 && error?.code === 'idempotency_key_in_use') || response.status === 429) {
      const after = Number(response.retryAfter);
      throw new ExchangeFailed('status', what, Number.isFinite(after) && after > 0 ? Math.min(after * 1000, 5_000) : undefined);
    }
    throw new ProviderError('declined', false, what, response.status);
  }

  private roundTrip(method: string, url: string, headers: Record<string, string>, body: Buffer | undefined): Promise<{ status: number; text: string; retryAfter?: string }> {
    const send = this.base.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { method, headers: body ? { ...headers, 'content-length': String(body.length) } : headers, agent: this.agent });
      const timer = setTimeout(() => {
        req.destroy(new ExchangeFailed('timeout', `no answer from the provider within ${this.options.requestTimeoutMs} ms`));
      }, this.options.requestTimeoutMs);
      req.once('error', (err) => {
        clearTimeout(timer);
        reject(err instanceof ExchangeFailed ? err : new ExchangeFailed('connection', `provider connection failed (${(err as NodeJS.ErrnoException).code ?? err.name})`));
      });
      req.once('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('error', () => {
          clearTimeout(timer);
          reject(new ExchangeFailed('connection', 'provider connection lost during the answer'));
        });
        res.once('end', () => {
          clearTimeout(timer);
          const retryAfter = res.headers['retry-after'];
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), ...(retryAfter !== undefined && { retryAfter }) });
        });
      });
      req.end(body);
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
