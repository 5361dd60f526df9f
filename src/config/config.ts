import path from 'node:path';
import { z } from 'zod';
import { PAUSE_STEPS } from '../workflow/pause-point.js';

/**
 * The gateway's whole configuration: one typed schema, read once at start.
 * Every variable is documented (with its default) in .env.example and the README.
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

const schema = z.object({
  // Unset: development on the embedded store, production when MONGODB_URI names a real one.
  NODE_ENV: z.enum(['development', 'test', 'production']).optional(),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(0, 65535).default(8080),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  SHUTDOWN_TIMEOUT_MS: int(100, 120_000).default(10_000),
  TRUST_PROXY: z
    .string()
    .default('false')
    .refine((v) => v !== 'true', 'true would trust any X-Forwarded-For a client sends: give the hop count or the proxy addresses'),
  HTTP_HEADERS_TIMEOUT_MS: int(1000, 120_000).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: int(1000, 600_000).default(30_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: int(1000, 600_000).default(5_000),
  HTTP_MAX_CONNECTIONS: int(1, 1_000_000).default(1024),
  PUBLIC_BASE_URL: z
    .url({ protocol: /^https?$/ })
    .refine((v) => {
      if (!URL.canParse(v)) return true; // reported by .url() already
      const u = new URL(v);
      return u.search === '' && u.hash === '' && u.username === '' && u.password === '';
    }, 'must be a scheme, host, optional port and optional path, nothing else')
    .optional(),

  MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// URI').optional(),
  EMBEDDED_STORE_DIR: z.string().min(1).default('data'),
  EMBEDDED_STORE_MAX_RESTARTS: int(0, 100).default(5),
  STORE_SERVER_SELECTION_TIMEOUT_MS: int(100, 120_000).default(2000),
  STORE_SOCKET_TIMEOUT_MS: int(0, 600_000).default(5000),
  CACHE_TTL_MS: int(0, 3_600_000).default(5000),
  GATEWAY_PROCESSES: int(0, 256).default(0),

  GATEWAY_AUDIENCE: z.string().min(1).default(DEFAULT_AUDIENCE),
  GATEWAY_KEYS_DIR: z.string().min(1).default('.keys'),
  GATEWAY_ENCRYPTION_KEYS: z.string().optional(),
  GATEWAY_SIGNING_KEY: z.string().optional(),
  REQUEST_BODY_LIMIT_BYTES: int(1024, 10 * 1024 * 1024).default(64 * 1024),
  REQUEST_MAX_AGE_S: int(5, 3600).default(120),
  REPLAY_CLOCK_SKEW_MS: int(0, 600_000).default(30_000),
  REPLAY_REDIS_PREFIX: z.string().min(1).max(100).default('card-gateway:replay:'),
  RATE_LIMIT_WINDOW_MS: int(1000, 3_600_000).default(60_000),
  RATE_LIMIT_PER_ADDRESS: int(1, 10_000_000).default(600),
  RATE_LIMIT_PER_PROJECT: int(1, 10_000_000).default(1200),
  PREAUTH_MAX_CONCURRENT: int(1, 10_000).default(16),
  PREAUTH_MAX_QUEUED: int(0, 100_000).default(256),
  RATE_LIMIT_REDIS_PREFIX: z.string().min(1).max(100).default('card-gateway:rl:'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),

  CARD_DATA_KEYS: namedList.optional(),
  CURSOR_KEYS: namedList.optional(),
  CARD_DATA_ACTIVE_KEY_ID: z.string().min(1).optional(),

  WORKER_ENABLED: bool.default(true),
  WORKER_CONCURRENCY: int(1, 256).default(4),
  WORKER_POLL_MS: int(10, 60_000).default(250),
  WORKER_LEASE_MS: int(1000, 600_000).default(30_000),
  WORKFLOW_PAUSE_AT: z.string().regex(PAUSE_SETTING, 'must be step, step+step, or either @project_id').optional(),
  PROVIDER_MAX_ATTEMPTS: int(1, 100).default(5),
  PROVIDER_RETRY_BASE_MS: int(1, 60_000).default(200),
  PROVIDER_TIMEOUT_MS: int(10, 120_000).default(10_000),
  PROVIDER_URL: z.string().regex(/^https?:\/\//, 'must be an http:// or https:// URL').optional(),
  PROVIDER_API_KEY: z.string().min(1).optional(),
  PROVIDER_SIGNING_KEY: z.string().min(1).optional(),
  PROVIDER_SIGNING_KEY_ID: z.string().min(1).max(100).default('gateway-1'),
  PROVIDER_WEBHOOK_KEYS: z.string().min(1).optional(),
  PROVIDER_REQUEST_TIMEOUT_MS: int(10, 120_000).default(3_000),
  PROVIDER_HTTP_ATTEMPTS: int(1, 10).default(3),
  PROVIDER_SIGNATURE_MAX_AGE_S: int(5, 3600).default(300),
  PROVIDER_SIM_DIR: z.string().min(1).default('data/provider-sim'),
  SANDBOX_LATENCY_MS: int(0, 60_000).default(0),
  SANDBOX_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
  SANDBOX_SIMULATOR_ENABLED: bool.optional(),

  ADMIN_ENABLED: bool.default(true),
  ADMIN_PORT: int(0, 65535).optional(),
  ADMIN_HOST: z.string().min(1).default('127.0.0.1'),
  ADMIN_AUTH_MAX_FAILURES: int(1, 100_000).default(10),
  ADMIN_AUTH_WINDOW_MS: int(1000, 86_400_000).default(300_000),
  ADMIN_TOKENS: namedList.optional(),
  STUCK_ORDER_AFTER_S: int(1, 30 * 86_400).default(900),

  WEBHOOKS_ENABLED: bool.default(true),
  WEBHOOK_POLL_MS: int(10, 60_000).default(500),
  WEBHOOK_TIMEOUT_MS: int(100, 120_000).default(10_000),
  WEBHOOK_CONCURRENCY: int(1, 256).default(8),
  WEBHOOK_RETRY_BASE_MS: int(10, 3_600_000).default(1_000),
  WEBHOOK_RETRY_MAX_MS: int(10, 86_400_000).default(3_600_000),
  WEBHOOK_RETRY_FOR_S: int(1, 30 * 86_400).default(86_400),
  WEBHOOK_ALLOW_PRIVATE_URLS: bool.optional(),
  CONSOLE_SESSION_IDLE_S: int(60, 86_400).default(900),
  CONSOLE_SESSION_MAX_S: int(300, 7 * 86_400).default(43_200),
});

type Parsed = z.infer<typeof schema>;

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
  const result = schema.safeParse(present);
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
