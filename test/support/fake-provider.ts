import { ProviderError, type CardProvider, type ProviderCard } from '../../src/provider/card-provider.js';
import { UnsupportedProviderCalls } from './unsupported-provider.js';

/** A card provider outside the process, as far as reconciliation can tell: it only reports cards. */
export class FakeProvider extends UnsupportedProviderCalls implements CardProvider {
  readonly cards = new Map<string, ProviderCard>();

  getCard(providerCardId: string): Promise<ProviderCard> {
    const card = this.cards.get(providerCardId);
    if (!card) return Promise.reject(new ProviderError('declined', false, 'card not found'));
    return Promise.resolve({ ...card });
  }
  createCard(): Promise<ProviderCard> {
    return Promise.reject(new Error('not used by reconciliation'));
  }
  topUp(): Promise<never> {
    return Promise.reject(new Error('not used by reconciliation'));
  }
  verifyTopUp(): Promise<never> {
    return Promise.reject(new Error('not used by reconciliation'));
  }
  readCardSecrets(): Promise<never> {
    return Promise.reject(new Error('not used by reconciliation'));
  }
}
