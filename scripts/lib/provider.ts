import type { CardProvider } from '../../src/provider/card-provider.js';
import type { StoreContext } from './cli.js';

/**
 * The card provider reconciliation compares cards with. None is configured until the provider
 * integration exists; the report then says the provider was not checked.
 */
export function scriptProvider(_store: StoreContext): Promise<CardProvider | undefined> {
  return Promise.resolve(undefined);
}
