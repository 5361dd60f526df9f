import { CardCipher } from '../../src/cards/card-cipher.js';
import { loadCardDataKeys } from '../../src/cards/card-data-keys.js';
import type { CardProvider } from '../../src/provider/card-provider.js';
import { SandboxCardProvider } from '../../src/provider/sandbox-provider.js';
import type { StoreContext } from './cli.js';

/**
 * The card provider reconciliation compares cards with: the gateway's sandbox provider, whose
 * records live in the same database. No latency and no injected failures here: reconciliation
 * asks what the provider knows, it does not exercise it.
 */
export async function scriptProvider(store: StoreContext): Promise<CardProvider | undefined> {
  const cipher = new CardCipher(await loadCardDataKeys(store.config));
  return new SandboxCardProvider(store.connection, cipher, { latencyMs: 0, failureRate: 0 });
}
