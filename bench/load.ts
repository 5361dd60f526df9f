import http from 'node:http';
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

/** The maximum rate: a closed loop of `connections` clients, each sending as soon as it has its answer. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  let next = 0;
  const statuses: Record<string, number> = {};
  const bodies: { status: number; body: string }[] = [];
  const keep = options.keepBodies ?? 0;

  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    amount: options.requests.length,
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

/**
 * A fixed request rate: an open loop that sends request i at start + i / rate, whether or not
 * earlier ones were answered, and measures each latency from that scheduled instant (so a stall
 * counts for every request it delays). autocannon's own rate option releases each second's budget
 * at once on every connection, which measures bursts of `connections` parallel requests instead.
 */
export async function runPaced(options: { url: string; path: string; requests: PreparedRequest[]; rate: number }): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const target = new URL(options.path, options.url);
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();

  const send = (prepared: PreparedRequest, scheduled: number) =>
    new Promise<void>((resolve) => {
      const headers: Record<string, string> = { 'content-type': 'application/jose' };
      if (prepared.idempotencyKey) headers['idempotency-key'] = prepared.idempotencyKey;
      const req = http.request(target, { method: 'POST', agent, headers, timeout: 30_000 }, (res) => {
        res.resume();
        res.on('end', () => {
          statuses[res.statusCode!] = (statuses[res.statusCode!] ?? 0) + 1;
          latencies.push(performance.now() - scheduled);
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end(prepared.token);
    });

  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < options.requests.length; i++) {
    const scheduled = start + (i * 1000) / options.rate;
    const wait = scheduled - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(send(options.requests[i]!, scheduled));
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();

  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
  return { rps: latencies.length / seconds, p50_ms: at(0.5), p99_ms: at(0.99), sent: options.requests.length, errors, statuses, bodies: [] };
}
