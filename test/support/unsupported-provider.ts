import type { CardPage, ProviderAccount, ProviderCard, TopUpResult } from '../../src/provider/card-provider.js';

/** The provider calls a test's fake does not script: each refuses, so an unexpected use fails loudly. */
export abstract class UnsupportedProviderCalls {
  createAccount(): Promise<ProviderAccount> {
    return Promise.reject(new Error('createAccount is not scripted'));
  }
  getAccount(): Promise<ProviderAccount> {
    return Promise.reject(new Error('getAccount is not scripted'));
  }
  listCards(): Promise<CardPage> {
    return Promise.reject(new Error('listCards is not scripted'));
  }
  deactivate(): Promise<ProviderCard> {
    return Promise.reject(new Error('deactivate is not scripted'));
  }
  activate(): Promise<ProviderCard> {
    return Promise.reject(new Error('activate is not scripted'));
  }
  terminate(): Promise<ProviderCard> {
    return Promise.reject(new Error('terminate is not scripted'));
  }
  withdraw(): Promise<TopUpResult> {
    return Promise.reject(new Error('withdraw is not scripted'));
  }
}
