import path from 'node:path';
import { z } from 'zod';

/**
 * The gateway's whole configuration: one typed schema, read once at start.
 * Every variable is documented (with its default) in .env.example and the README.
 */

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

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

const schema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(0, 65535).default(8080),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  SHUTDOWN_TIMEOUT_MS: int(100, 120_000).default(10_000),
  TRUST_PROXY: z.string().default('false'),

  MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// URI').optional(),
  EMBEDDED_STORE_DIR: z.string().min(1).default('data'),

  GATEWAY_AUDIENCE: z.string().min(1).default('card-gateway'),
  GATEWAY_KEYS_DIR: z.string().min(1).default('.keys'),
  GATEWAY_ENCRYPTION_KEYS: z.string().optional(),
  GATEWAY_SIGNING_KEY: z.string().optional(),
  REQUEST_BODY_LIMIT_BYTES: int(1024, 10 * 1024 * 1024).default(64 * 1024),
  REQUEST_MAX_AGE_S: int(5, 3600).default(120),
  RATE_LIMIT_WINDOW_MS: int(1000, 3_600_000).default(60_000),
  RATE_LIMIT_PER_ADDRESS: int(1, 10_000_000).default(600),
  RATE_LIMIT_PER_PROJECT: int(1, 10_000_000).default(1200),
  RATE_LIMIT_REDIS_PREFIX: z.string().min(1).max(100).default('card-gateway:rl:'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),

  CARD_DATA_KEYS: namedList.optional(),
  CARD_DATA_ACTIVE_KEY_ID: z.string().min(1).optional(),

  WORKER_ENABLED: bool.default(true),
  WORKER_CONCURRENCY: int(1, 256).default(4),
  WORKER_POLL_MS: int(10, 60_000).default(250),
  WORKER_LEASE_MS: int(1000, 600_000).default(30_000),
  PROVIDER_MAX_ATTEMPTS: int(1, 100).default(5),
  PROVIDER_RETRY_BASE_MS: int(1, 60_000).default(200),
  PROVIDER_TIMEOUT_MS: int(10, 120_000).default(10_000),
  SANDBOX_LATENCY_MS: int(0, 60_000).default(0),
  SANDBOX_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
  SANDBOX_SIMULATOR_ENABLED: bool.optional(),

  ADMIN_ENABLED: bool.default(true),
  ADMIN_PORT: int(0, 65535).optional(),
  ADMIN_TOKENS: namedList.optional(),
  STUCK_ORDER_AFTER_S: int(1, 30 * 86_400).default(900),
  CONSOLE_SESSION_IDLE_S: int(60, 86_400).default(900),
  CONSOLE_SESSION_MAX_S: int(300, 7 * 86_400).default(43_200),
});

type Parsed = z.infer<typeof schema>;

export type Config = Omit<Parsed, 'SANDBOX_SIMULATOR_ENABLED'> & {
  SANDBOX_SIMULATOR_ENABLED: boolean;
  /** Absolute folders, resolved against the working directory. */
  embeddedStoreDir: string;
  keysDir: string;
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
  const c = result.data;
  const problems: string[] = [];

  if (c.NODE_ENV === 'production') {
    if (!c.MONGODB_URI) problems.push('MONGODB_URI: required in production (the embedded store is for development and tests)');
    if (!c.GATEWAY_ENCRYPTION_KEYS) problems.push('GATEWAY_ENCRYPTION_KEYS: required in production');
    if (!c.GATEWAY_SIGNING_KEY) problems.push('GATEWAY_SIGNING_KEY: required in production');
    if (!c.CARD_DATA_KEYS) problems.push('CARD_DATA_KEYS: required in production');
    if (c.ADMIN_ENABLED && !c.ADMIN_TOKENS) problems.push('ADMIN_TOKENS: required in production while ADMIN_ENABLED is true');
  }
  if (c.CARD_DATA_KEYS && !c.CARD_DATA_ACTIVE_KEY_ID) {
    problems.push('CARD_DATA_ACTIVE_KEY_ID: required when CARD_DATA_KEYS is set');
  }
  if (c.CARD_DATA_KEYS && c.CARD_DATA_ACTIVE_KEY_ID && !c.CARD_DATA_KEYS.has(c.CARD_DATA_ACTIVE_KEY_ID)) {
    problems.push('CARD_DATA_ACTIVE_KEY_ID: names no key of CARD_DATA_KEYS');
  }
  for (const [name, token] of c.ADMIN_TOKENS ?? []) {
    if (token.length < 32) problems.push(`ADMIN_TOKENS: token of "${name}" is shorter than 32 characters`);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    ...c,
    SANDBOX_SIMULATOR_ENABLED: c.SANDBOX_SIMULATOR_ENABLED ?? c.NODE_ENV !== 'production',
    embeddedStoreDir: path.resolve(c.EMBEDDED_STORE_DIR),
    keysDir: path.resolve(c.GATEWAY_KEYS_DIR),
  };
}
