import type { CardProvider } from '../../src/provider/card-provider.js';
import { connectProvider } from '../../src/provider/http/provider-link.js';
import { simulatorConfig, startProviderSimulator } from '../../src/provider/simulator-process.js';
import type { StoreContext } from './cli.js';

/**
 * The card provider reconciliation compares cards with: the configured one (PROVIDER_URL), or
 * else the simulator of a running development gateway (or one started on its journal for this
 * script). Returns a close() for what it opened.
 */
export async function scriptProvider(store: StoreContext): Promise<{ provider: CardProvider; close: () => Promise<void> }> {
  if (store.config.PROVIDER_URL) {
    const link = connectProvider(store.config);
    return { provider: link.provider, close: () => Promise.resolve(link.client.close()) };
  }
  const sim = await startProviderSimulator({ dataDir: store.config.providerSimDir, joinRunning: true, signingKeyId: store.config.PROVIDER_SIGNING_KEY_ID });
  const link = connectProvider({ ...store.config, ...simulatorConfig(sim) });
  return {
    provider: link.provider,
    close: async () => {
      link.client.close();
      await sim.stop();
    },
  };
}
