import type { KeyObject } from 'node:crypto';
import type { Config } from '../../config/config.js';
import { HttpCardProvider } from './http-card-provider.js';
import { privateKeyFromJwk, publicKeyFromJwk } from './message-signature.js';
import { ProviderClient } from './provider-client.js';

/** The configured link to the card provider: its HTTP client, the provider adapter, the webhook keys. */
export interface ProviderLink {
  client: ProviderClient;
  provider: HttpCardProvider;
  /** The provider's webhook verifying keys by keyid (PROVIDER_WEBHOOK_KEYS). */
  webhookKeys: Map<string, KeyObject>;
}

export class ProviderNotConfigured extends Error {
  constructor(missing: string[]) {
    super(`the card provider is not configured: ${missing.join(', ')} unset`);
    this.name = 'ProviderNotConfigured';
  }
}

export function connectProvider(config: Config): ProviderLink {
  const missing = (['PROVIDER_URL', 'PROVIDER_API_KEY', 'PROVIDER_SIGNING_KEY'] as const).filter((k) => !config[k]);
  if (missing.length > 0) throw new ProviderNotConfigured(missing);
  const client = new ProviderClient({
    baseUrl: config.PROVIDER_URL!,
    apiKey: config.PROVIDER_API_KEY!,
    keyId: config.PROVIDER_SIGNING_KEY_ID,
    privateKey: privateKeyFromJwk(config.PROVIDER_SIGNING_KEY!),
    requestTimeoutMs: config.PROVIDER_REQUEST_TIMEOUT_MS,
    attempts: config.PROVIDER_HTTP_ATTEMPTS,
    retryBaseMs: config.PROVIDER_RETRY_BASE_MS,
  });
  const webhookKeys = new Map<string, KeyObject>();
  for (const [keyId, jwk] of Object.entries(JSON.parse(config.PROVIDER_WEBHOOK_KEYS ?? '{}') as Record<string, unknown>)) {
    webhookKeys.set(keyId, publicKeyFromJwk(JSON.stringify(jwk)));
  }
  return { client, provider: new HttpCardProvider(client), webhookKeys };
}
