import type { CardProvider, CreateCardRequest, ProviderCard, TopUpResult } from '../../src/provider/card-provider.js';
import { UnsupportedProviderCalls } from './unsupported-provider.js';

/** A scripted provider (the one thing tests may fake): behaviours the sandbox does not have. */
export class ScriptedProvider extends UnsupportedProviderCalls implements CardProvider {
  hangCreate = false;
  /** While set, createCard waits for it: a test holds an order inside its card-creation step. */
  createGate: Promise<void> | undefined;
  verifyAnswers: TopUpResult['status'][] = [];
  calls: string[] = [];
  /** The order of each createCard, in call order: another suite's order left due may call it too. */
  cardsCreatedFor: string[] = [];
  private readonly card: ProviderCard = { providerCardId: 'pc_1', status: 'active', maskedPan: '400000******0002', currency: 'USD', balance: 0 };

  async createCard(request: CreateCardRequest): Promise<ProviderCard> {
    this.calls.push('createCard');
    this.cardsCreatedFor.push(request.orderId);
    if (this.hangCreate) await new Promise((r) => setTimeout(r, 1_000));
    await this.createGate;
    return this.card;
  }
  getCard(): Promise<ProviderCard> {
    return Promise.resolve(this.card);
  }
  topUp(): Promise<TopUpResult> {
    this.calls.push('topUp');
    return Promise.resolve({ topUpId: 'pt_1', status: 'pending' });
  }
  verifyTopUp(): Promise<TopUpResult> {
    this.calls.push('verifyTopUp');
    return Promise.resolve({ topUpId: 'pt_1', status: this.verifyAnswers.shift() ?? 'succeeded' });
  }
  readCardSecrets() {
    this.calls.push('readCardSecrets');
    return Promise.resolve({ pan: '4000000000000002', cvv: '321', expiryMonth: 1, expiryYear: 2031 });
  }
}
