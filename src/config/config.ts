import path from 'node:path';
import { z } from 'zod';
import { PAUSE_STEPS } from '../workflow/pause-point.js';

/**
 * The gateway's whole configuration: one typed schema, read once at start. Each setting's
 * description lives here; docs/configuration.md and .env.example are generated from it
 * (`npm run docs:config`, and a test checks they match).
 */

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const pauseStep = `(${PAUSE_STEPS.join('|')})`;
const PAUSE_SETTING = new RegExp(`^${pauseStep}(\\+${pauseStep})*(@\\S+)?$`);

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** `name:value,name:value` lists (staff tokens, data keys). Names are unique. */
const namedList = z.string().transform((raw, ctx) => {
  const entries = new Map<string, string>();
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const sep = part.indexOf(':');
    if (sep <= 0 || sep === part.length - 1) {
      ctx.addIssue({ code: 'custom', message: 'expected name:value pairs separated by commas' });
      return z.NEVER;
    }
    const name = part.slice(0, sep);
    if (entries.has(name)) {
      ctx.addIssue({ code: 'custom', message: `name "${name}" appears twice` });
      return z.NEVER;
    }
    entries.set(name, part.slice(sep + 1));
  }
  return entries;
});

const DEFAULT_AUDIENCE = 'card-gateway';

/**
 * One section of docs/configuration.md and .env.example. Each setting's `.describe()` is its
 * documentation there: adding a setting is one line in its section, then `npm run docs:config`.
 */
function section<T extends Record<string, z.ZodType>>(title: string, shape: T): T {
  return Object.fromEntries(Object.entries(shape).map(([key, setting]) => [key, setting.meta({ section: title })])) as T;
}

/** Exported for the generated docs (src/config/config-docs.ts); everything else uses loadConfig. */
export const configSchema = z.object({
  ...section('Process', {
    NODE_ENV: z
      .enum(['development', 'test', 'production'])
      .optional()
      .describe('Unset: `production` when `MONGODB_URI` is set, `development` otherwise. Production refuses to start without `MONGODB_URI`, the gateway keys, `CARD_DATA_KEYS`, `ADMIN_TOKENS` and `ADMIN_PORT` (while the admin side is enabled), its own `GATEWAY_AUDIENCE` and the provider settings, naming each.'),
    HOST: z.string().min(1).default('127.0.0.1').describe('Bind address of the partner listener.'),
    PORT: int(0, 65535).default(8080).describe('Port of the partner listener (0: any free port).'),
    LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info').describe('The lowest level written to the log (JSON lines on standard output, errors and warnings on standard error).'),
    SHUTDOWN_TIMEOUT_MS: int(100, 120_000).default(10_000).describe('How long in-flight requests may finish after SIGTERM before their connections are closed.'),
    TRUST_PROXY: z
      .string()
      .default('false')
      .refine((v) => v !== 'true', 'true would trust any X-Forwarded-For a client sends: give the hop count or the proxy addresses')
      .describe('Express "trust proxy": `false` (the TCP peer is the client), a hop count, or the proxies\' addresses or subnets. `true` is refused: it would trust whatever `X-Forwarded-For` a client writes (docs/operations.md, behind a TLS terminator).'),
    HTTP_HEADERS_TIMEOUT_MS: int(1000, 120_000).default(10_000).describe('A client must send all request headers within this, or gets 408 and is cut.'),
    HTTP_REQUEST_TIMEOUT_MS: int(1000, 600_000).default(30_000).describe('A client must send the whole request (headers and body) within this, or gets 408 and is cut.'),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: int(1000, 600_000).default(5_000).describe('An idle keep-alive connection is closed after this.'),
    HTTP_MAX_CONNECTIONS: int(1, 1_000_000).default(1024).describe('Open connections per listener; more are refused at once.'),
    PUBLIC_BASE_URL: z
      .url({ protocol: /^https?$/ })
      .refine((v) => {
        if (!URL.canParse(v)) return true; // reported by .url() already
        const u = new URL(v);
        return u.search === '' && u.hash === '' && u.username === '' && u.password === '';
      }, 'must be a scheme, host, optional port and optional path, nothing else')
      .optional()
      .describe('The gateway\'s public URL (scheme, host, optional port and path). An absolute `htu` claim must be this plus the endpoint path; unset: only a path `htu` is accepted.'),
  }),

  ...section('Store', {
    MONGODB_URI: z
      .string()
      .regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// URI')
      .optional()
      .describe('MongoDB 6 or later (or FerretDB); the database is the URI\'s path, `card_gateway` when it has none. Unset: the embedded FerretDB starts with the gateway (development and tests; needs Go).'),
    EMBEDDED_STORE_DIR: z.string().min(1).default('data').describe('Data folder of the embedded store.'),
    EMBEDDED_STORE_MAX_RESTARTS: int(0, 100).default(5).describe('Restarts of a dead embedded store in a row (backoff 0.2 s doubling to 5 s) before the gateway exits with 1.'),
    STORE_SERVER_SELECTION_TIMEOUT_MS: int(100, 120_000).default(2000).describe('Bound on finding (and connecting to) the store; past it a request answers 503 `service_unavailable`.'),
    STORE_SOCKET_TIMEOUT_MS: int(0, 600_000)
      .default(5000)
      .describe('Bound on one store reply (a hung store); 0 waits for ever. Past it a request answers 503. It bounds admin lookups too; the command-line scripts wait for ever.'),
    CACHE_TTL_MS: int(0, 3_600_000)
      .default(5000)
      .describe('How stale a process\'s copy of a project (status, keys), product or cardholder may be; staff changes made through the same process apply at once. 0: no cache.'),
    GATEWAY_PROCESSES: int(0, 256)
      .default(0)
      .describe('Gateway processes on one port (node:cluster) when both `MONGODB_URI` and `PROVIDER_URL` are set; 0 means one per core. With the embedded store or the provider simulator: always one.'),
  }),

  ...section('Secure channel', {
    GATEWAY_AUDIENCE: z
      .string()
      .min(1)
      .default(DEFAULT_AUDIENCE)
      .describe('The `aud` claim partners must sign, and the `iss` of sealed answers. One value per deployment: production refuses the default.'),
    GATEWAY_KEYS_DIR: z.string().min(1).default('.keys').describe('Where development and test keys (gateway keys, card data key, staff token) are generated on first start (git-ignored, files 0600).'),
    GATEWAY_ENCRYPTION_KEYS: z
      .string()
      .optional()
      .describe('The gateway\'s decryption keys: a JWKS, one JWK or PEM private keys, inline or `file:PATH`. Every key decrypts and all are published, in this order (docs/secure-channel.md). Required in production.'),
    GATEWAY_SIGNING_KEY: z
      .string()
      .optional()
      .describe('The gateway\'s answer-signing key: an Ed25519 or P-256 private JWK or PEM, inline or `file:PATH`; with a JWKS the first key signs and the others are only published (rotation). Required in production.'),
    REQUEST_BODY_LIMIT_BYTES: int(1024, 10 * 1024 * 1024).default(64 * 1024).describe('Largest partner request body; above it, 413 `payload_too_large`.'),
    REQUEST_MAX_AGE_S: int(5, 3600).default(120).describe('Accepted distance of a request\'s `iat` from the gateway clock, both ways, in seconds.'),
    REPLAY_CLOCK_SKEW_MS: int(0, 600_000).default(30_000).describe('How far gateway instances\' clocks may differ: replay entries are kept for the window plus this margin.'),
    REPLAY_REDIS_PREFIX: z.string().min(1).max(100).default('card-gateway:replay:').describe('Key prefix of the replay entries in Redis (the instances of one deployment use the same prefix).'),
    RATE_LIMIT_WINDOW_MS: int(1000, 3_600_000).default(60_000).describe('The window of both request budgets below.'),
    RATE_LIMIT_PER_ADDRESS: int(1, 10_000_000)
      .default(600)
      .describe('Requests per window per client address that fail authentication (checked before decryption); authenticated requests do not count.'),
    RATE_LIMIT_PER_PROJECT: int(1, 10_000_000).default(1200).describe('Requests per window per authenticated project.'),
    PREAUTH_MAX_CONCURRENT: int(1, 10_000).default(16).describe('Decryptions and signature checks of not-yet-authenticated requests running at once.'),
    PREAUTH_MAX_QUEUED: int(0, 100_000).default(256).describe('Such requests waiting for a slot; beyond it, 503 `service_unavailable` with `Retry-After: 1` at once.'),
    RATE_LIMIT_REDIS_PREFIX: z.string().min(1).max(100).default('card-gateway:rl:').describe('Key prefix of the rate-limit counters in Redis (instances sharing a budget use the same prefix).'),
    CURSOR_KEYS: namedList
      .optional()
      .describe('HMAC keys binding partner list cursors to their endpoint, project and filters: `id:secret,id2:secret2` (each secret at least 32 characters); the first signs, every listed key verifies (rotation). Every process of a deployment must share them. Development and test generate one into `GATEWAY_KEYS_DIR` when unset; required in production.'),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional()
      .describe('Redis shared by the gateway instances for the rate-limit budgets and the replay entries (`SET NX PX`), e.g. `redis://127.0.0.1:6379`. Unset: budgets in each process\'s memory, replay entries in the store.'),
  }),

  ...section('Card data', {
    CARD_DATA_KEYS: namedList
      .optional()
      .describe('AES-256 keys for the stored PAN, CVV and expiry: `id:base64-of-32-bytes,id2:...`. Every listed key decrypts what it sealed. Development and test generate one when unset; required in production.'),
    CARD_DATA_ACTIVE_KEY_ID: z.string().min(1).optional().describe('The key of `CARD_DATA_KEYS` new card data is sealed under; required when `CARD_DATA_KEYS` is set.'),
  }),

  ...section('Issuance worker and provider', {
    WORKER_ENABLED: bool.default(true).describe('Run the issuance worker (and the cardholder verification sweeper) in this process.'),
    WORKER_CONCURRENCY: int(1, 256).default(4).describe('Orders driven at once per process.'),
    WORKER_POLL_MS: int(10, 60_000).default(250).describe('How often due orders are looked for (a new order also wakes the worker at once).'),
    WORKER_LEASE_MS: int(1000, 600_000).default(30_000).describe('How long a claim holds an order without renewal; a crashed holder\'s orders are taken over after it.'),
    WORKFLOW_PAUSE_AT: z
      .string()
      .regex(PAUSE_SETTING, 'must be step, step+step, or either @project_id')
      .optional()
      .describe('Tests only (ignored unless `NODE_ENV=test`): hold the first order reaching this step (`step`, `step+step`, optionally `@project_id`) until SIGCONT.'),
    PROVIDER_MAX_ATTEMPTS: int(1, 100)
      .default(5)
      .describe('Tries of a provider call that fails transiently before the order fails with its slug; a step that moves money keeps asking, its backoff capped at a minute.'),
    PROVIDER_RETRY_BASE_MS: int(1, 60_000).default(200).describe('Base of the jittered exponential backoff between provider tries (the workflow\'s and the HTTP attempts\').'),
    PROVIDER_TIMEOUT_MS: int(10, 120_000).default(10_000).describe('Bound on one whole provider call of the workflow (all its HTTP attempts).'),
    PROVIDER_URL: z
      .string()
      .regex(/^https?:\/\//, 'must be an http:// or https:// URL')
      .optional()
      .describe('The card provider\'s API base URL (docs/provider.md). Unset outside production: the gateway starts the provider simulator beside itself. Required in production.'),
    PROVIDER_API_KEY: z.string().min(1).optional().describe('The bearer credential sent to the provider. Required in production.'),
    PROVIDER_SIGNING_KEY: z.string().min(1).optional().describe('The gateway\'s Ed25519 private key as a JWK (JSON) for the RFC 9421 request signatures. Required in production.'),
    PROVIDER_SIGNING_KEY_ID: z.string().min(1).max(100).default('gateway-1').describe('The `keyid` the provider knows that key by.'),
    PROVIDER_WEBHOOK_KEYS: z
      .string()
      .min(1)
      .optional()
      .describe('The provider\'s webhook verifying keys, `{"keyid": <public JWK>, ...}` in JSON; a webhook signed by any of them is accepted. Required in production.'),
    PROVIDER_REQUEST_TIMEOUT_MS: int(10, 120_000).default(3_000).describe('Timeout of one HTTP exchange with the provider.'),
    PROVIDER_HTTP_ATTEMPTS: int(1, 10)
      .default(3)
      .describe('HTTP exchanges per provider call (timeouts, connection errors, 5xx, 409 in use, 429), with jittered backoff from `PROVIDER_RETRY_BASE_MS`.'),
    PROVIDER_SIGNATURE_MAX_AGE_S: int(5, 3600).default(300).describe('Oldest provider webhook signature (`created`) accepted, in seconds.'),
    PROVIDER_SIM_DIR: z.string().min(1).default('data/provider-sim').describe('The journal of the provider simulator the development gateway starts.'),
    SANDBOX_LATENCY_MS: int(0, 60_000).default(0).describe('Latency of the simulator the development gateway starts (its `latency_ms` fault).'),
    SANDBOX_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0).describe('5xx rate of the simulator the development gateway starts (its `error_rate` fault).'),
    SANDBOX_SIMULATOR_ENABLED: bool.optional().describe('The partner-facing sandbox simulator routes (hold, issue or fail orders). Unset: on except in production.'),
  }),

  ...section('Back office', {
    ADMIN_ENABLED: bool.default(true).describe('`false` removes the admin side (admin API, console, `/metrics`) entirely.'),
    ADMIN_PORT: int(0, 65535)
      .optional()
      .describe('Serve the admin side on its own listener instead of the partner port. Required in production: staff routes never answer on the partner port there.'),
    ADMIN_HOST: z.string().min(1).default('127.0.0.1').describe('Bind address of the admin listener (loopback: reach it through a bastion or a private network).'),
    ADMIN_AUTH_MAX_FAILURES: int(1, 100_000)
      .default(10)
      .describe('Failed staff authentications per client address within the window before every admin request from it is 429 `rate_limited` with `Retry-After`. Per process.'),
    ADMIN_AUTH_WINDOW_MS: int(1000, 86_400_000).default(300_000).describe('The window of `ADMIN_AUTH_MAX_FAILURES`.'),
    ADMIN_TOKENS: namedList
      .optional()
      .describe('Staff bearer tokens, `name:token,name2:token2`, each token at least 32 characters; the name is the staff member in the audit log. Required in production while the admin side is enabled.'),
    STUCK_ORDER_AFTER_S: int(1, 30 * 86_400).default(900).describe('Reconciliation reports an unfinished order with no progress for this long as stuck.'),
    CONSOLE_SESSION_IDLE_S: int(60, 86_400).default(900).describe('Support console: signed out after this many seconds without a request (checked to the minute).'),
    CONSOLE_SESSION_MAX_S: int(300, 7 * 86_400).default(43_200).describe('Support console: a session\'s absolute lifetime after sign-in, in seconds.'),
  }),

  ...section('Webhooks to partners', {
    WEBHOOKS_ENABLED: bool.default(true).describe('Run the outbox (which derives order events) and the dispatcher (which delivers due events to the projects\' endpoints) in this process.'),
    WEBHOOK_POLL_MS: int(10, 60_000).default(500).describe('How often the outbox scans changed orders and the dispatcher looks for due events.'),
    WEBHOOK_TIMEOUT_MS: int(100, 120_000).default(10_000).describe('An endpoint that has not answered within this long counts as a failed attempt.'),
    WEBHOOK_CONCURRENCY: int(1, 256).default(8).describe('Deliveries in flight at once per gateway process.'),
    WEBHOOK_RETRY_BASE_MS: int(10, 3_600_000).default(1_000).describe('Backoff after attempt n: base * 2^(n-1), jittered, capped by `WEBHOOK_RETRY_MAX_MS`.'),
    WEBHOOK_RETRY_MAX_MS: int(10, 86_400_000).default(3_600_000).describe('The longest wait between two attempts.'),
    WEBHOOK_RETRY_FOR_S: int(1, 30 * 86_400).default(86_400).describe('How long an event is retried before it is marked failed (a redelivery starts a new period).'),
    WEBHOOK_ALLOW_PRIVATE_URLS: bool
      .optional()
      .describe('Allow `http` and private or loopback addresses as webhook URLs. Unset: allowed except in production, where `true` is refused.'),
  }),
});

type Parsed = z.infer<typeof configSchema>;

export type Config = Omit<Parsed, 'SANDBOX_SIMULATOR_ENABLED' | 'NODE_ENV' | 'WEBHOOK_ALLOW_PRIVATE_URLS'> & {
  /** As set, or resolved when unset: production when MONGODB_URI is set, development otherwise. */
  NODE_ENV: 'development' | 'test' | 'production';
  SANDBOX_SIMULATOR_ENABLED: boolean;
  WEBHOOK_ALLOW_PRIVATE_URLS: boolean;
  /** Absolute folders, resolved against the working directory. */
  embeddedStoreDir: string;
  keysDir: string;
  providerSimDir: string;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and checks the configuration; throws ConfigError naming every problem at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset", as in most .env tooling.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = configSchema.safeParse(present);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  // A process pointed at a real store is a deployment unless development is stated: generated keys
  // on a throwaway disk, simulator routes and staff routes on the partner port are never guessed.
  const nodeEnv = result.data.NODE_ENV ?? (result.data.MONGODB_URI ? 'production' : 'development');
  const c = { ...result.data, NODE_ENV: nodeEnv };
  const problems: string[] = [];

  if (c.NODE_ENV === 'production') {
    const why = result.data.NODE_ENV ? 'in production' : 'in production (MONGODB_URI is set and NODE_ENV is not: set NODE_ENV=development to use development defaults)';
    if (!c.MONGODB_URI) problems.push('MONGODB_URI: required in production (the embedded store is for development and tests)');
    if (!c.GATEWAY_ENCRYPTION_KEYS) problems.push(`GATEWAY_ENCRYPTION_KEYS: required ${why}`);
    if (!c.GATEWAY_SIGNING_KEY) problems.push(`GATEWAY_SIGNING_KEY: required ${why}`);
    if (!c.CARD_DATA_KEYS) problems.push(`CARD_DATA_KEYS: required ${why}`);
    if (!c.CURSOR_KEYS) problems.push(`CURSOR_KEYS: required ${why} (every gateway process must share it)`);
    if (c.ADMIN_ENABLED && !c.ADMIN_TOKENS) problems.push(`ADMIN_TOKENS: required ${why} while ADMIN_ENABLED is true`);
    if (c.ADMIN_ENABLED && c.ADMIN_PORT === undefined) problems.push(`ADMIN_PORT: required ${why} while ADMIN_ENABLED is true (staff routes never share the partner port)`);
    if (c.GATEWAY_AUDIENCE === DEFAULT_AUDIENCE) problems.push(`GATEWAY_AUDIENCE: set a value of this deployment's own ${why} (the default "${DEFAULT_AUDIENCE}" would accept tokens made for any other)`);
    if (!c.PROVIDER_URL) problems.push(`PROVIDER_URL: required ${why} (the provider simulator is for development and tests)`);
    if (!c.PROVIDER_API_KEY) problems.push(`PROVIDER_API_KEY: required ${why}`);
    if (!c.PROVIDER_SIGNING_KEY) problems.push(`PROVIDER_SIGNING_KEY: required ${why}`);
    if (!c.PROVIDER_WEBHOOK_KEYS) problems.push(`PROVIDER_WEBHOOK_KEYS: required ${why}`);
    if (c.WEBHOOK_ALLOW_PRIVATE_URLS) problems.push(`WEBHOOK_ALLOW_PRIVATE_URLS: must not be true ${why} (webhooks go to public https only)`);
  }
  if (c.HTTP_HEADERS_TIMEOUT_MS > c.HTTP_REQUEST_TIMEOUT_MS) problems.push('HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS');
  if (c.CARD_DATA_KEYS && !c.CARD_DATA_ACTIVE_KEY_ID) {
    problems.push('CARD_DATA_ACTIVE_KEY_ID: required when CARD_DATA_KEYS is set');
  }
  if (c.CARD_DATA_KEYS && c.CARD_DATA_ACTIVE_KEY_ID && !c.CARD_DATA_KEYS.has(c.CARD_DATA_ACTIVE_KEY_ID)) {
    problems.push('CARD_DATA_ACTIVE_KEY_ID: names no key of CARD_DATA_KEYS');
  }
  for (const [id, secret] of c.CURSOR_KEYS ?? []) {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) problems.push(`CURSOR_KEYS: key id "${id.slice(0, 40)}" must be 1-32 of A-Z a-z 0-9 _ -`);
    if (secret.length < 32) problems.push(`CURSOR_KEYS: the secret of "${id.slice(0, 40)}" is shorter than 32 characters`);
  }
  for (const [name, token] of c.ADMIN_TOKENS ?? []) {
    if (token.length < 32) problems.push(`ADMIN_TOKENS: token of "${name}" is shorter than 32 characters`);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    ...c,
    SANDBOX_SIMULATOR_ENABLED: c.SANDBOX_SIMULATOR_ENABLED ?? c.NODE_ENV !== 'production',
    WEBHOOK_ALLOW_PRIVATE_URLS: c.WEBHOOK_ALLOW_PRIVATE_URLS ?? c.NODE_ENV !== 'production',
    embeddedStoreDir: path.resolve(c.EMBEDDED_STORE_DIR),
    keysDir: path.resolve(c.GATEWAY_KEYS_DIR),
    providerSimDir: path.resolve(c.PROVIDER_SIM_DIR),
  };
}
