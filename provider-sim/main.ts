import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ProviderSimulator, publicJwk, type Faults } from './simulator.js';

/**
 * `npm run provider:sim`: the card provider simulator as its own process. Configured by
 * environment (docs/provider.md, "The simulator"); prints one line `READY {json}` with its URL
 * and its webhook signing key's public JWK once it listens. With `--parent-pipe` it exits when
 * its standard input closes, i.e. when the gateway that started it dies, however it dies.
 */
function main(): void {
  const env = process.env;
  const dataDir = path.resolve(env.PROVIDER_SIM_DIR ?? 'data/provider-sim');
  const apiKey = env.PROVIDER_SIM_API_KEY ?? 'sim-dev-credential';
  const clientKeys = new Map<string, KeyObject>();
  for (const [keyId, jwk] of Object.entries(JSON.parse(env.PROVIDER_SIM_CLIENT_KEYS ?? '{}') as Record<string, JsonWebKey>)) {
    clientKeys.set(keyId, createPublicKey({ key: jwk, format: 'jwk' }));
  }
  const webhookKey = loadWebhookKey(dataDir, env.PROVIDER_SIM_WEBHOOK_KEY);
  const simulator = new ProviderSimulator({
    dataDir,
    apiKey,
    clientKeys,
    webhookKey: { keyId: 'provider-sim', privateKey: webhookKey },
    ...(env.PROVIDER_SIM_WEBHOOK_URL && { webhookUrl: env.PROVIDER_SIM_WEBHOOK_URL }),
    signatureMaxAgeS: Number(env.PROVIDER_SIM_SIGNATURE_MAX_AGE_S ?? 300),
    faults: JSON.parse(env.PROVIDER_SIM_FAULTS ?? '{}') as Partial<Faults>,
  });
  const stop = () => void simulator.close().finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  if (process.argv.includes('--parent-pipe')) {
    process.stdin.resume();
    process.stdin.once('end', stop);
    process.stdin.once('close', stop);
  }
  void simulator.listen(env.PROVIDER_SIM_HOST ?? '127.0.0.1', Number(env.PROVIDER_SIM_PORT ?? 0)).then((url) => {
    process.stdout.write(`READY ${JSON.stringify({ url, webhook_key_id: 'provider-sim', webhook_public_key: publicJwk(webhookKey) })}\n`);
  });
}

/** The simulator's webhook signing key: given, or made once and kept beside its journal. */
function loadWebhookKey(dataDir: string, given: string | undefined): KeyObject {
  if (given) return createPrivateKey({ key: JSON.parse(given) as JsonWebKey, format: 'jwk' });
  const file = path.join(dataDir, 'webhook-key.json');
  if (existsSync(file)) return createPrivateKey({ key: JSON.parse(readFileSync(file, 'utf8')) as JsonWebKey, format: 'jwk' });
  const { privateKey } = generateKeyPairSync('ed25519');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(privateKey.export({ format: 'jwk' })), { mode: 0o600 });
  return privateKey;
}

main();
