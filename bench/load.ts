import autocannon from 'autocannon';

/**
 * Drives one endpoint with pre-sealed requests (each token carries its own jti, so every request
 * is fresh to the replay cache). Sealing happens before the timed part: the load generator must
 * not spend the cores it shares with the gateway on cryptography.
 */

export interface PreparedRequest {
  token: string;
  idempotencyKey?: string;
}

export interface LoadOptions {
  url: string;
  path: string;
  requests: PreparedRequest[];
  connections: number;
  /** Requests per second over all connections; unset means as fast as the gateway answers. */
  overallRate?: number;
  /** Keep the first N response bodies so they can be opened and checked after the run. */
  keepBodies?: number;
}

export interface LoadResult {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  sent: number;
  errors: number;
  statuses: Record<string, number>;
  bodies: { status: number; body: string }[];
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  let next = 0;
  const statuses: Record<string, number> = {};
  const bodies: { status: number; body: string }[] = [];
  const keep = options.keepBodies ?? 0;

  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    amount: options.requests.length,
    ...(options.overallRate ? { overallRate: options.overallRate } : {}),
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: options.path,
        setupRequest: (req) => {
          const prepared = options.requests[next++ % options.requests.length]!;
          const headers: Record<string, string> = { 'content-type': 'application/jose' };
          if (prepared.idempotencyKey) headers['idempotency-key'] = prepared.idempotencyKey;
          return { ...req, headers, body: prepared.token };
        },
        onResponse: (status, body) => {
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (bodies.length < keep) bodies.push({ status, body });
        },
      },
    ],
  });

  return {
    rps: result.requests.total / (result.duration || 1),
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    sent: result.requests.total,
    errors: result.errors + result.timeouts,
    statuses,
    bodies,
  };
}
