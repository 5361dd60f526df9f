import { cardholderIdFor } from '../../ids/ids.js';
import {
  ProviderError,
  type CardChangeRequest,
  type CardPage,
  type CardProvider,
  type CardSecrets,
  type CreateAccountRequest,
  type CreateCardRequest,
  type ProviderAccount,
  type ProviderCard,
  type TopUpRequest,
  type TopUpResult,
} from '../card-provider.js';
import type { ProviderClient } from './provider-client.js';
import type { WireAccount, WireCard, WireCreateAccount, WireCardPage, WireCardSensitive, WireCreateCard, WireFundsMovement, WireMoveFunds } from './wire.js';

/**
 * The programme's billing address: the gateway holds no cardholder addresses (the contract does not
 * carry them), so every virtual card is billed to the programme (docs/provider.md).
 */
const PROGRAMME_BILLING_ADDRESS = { firstLine: '1 Programme Street', city: 'London', country: 'GB', postCode: 'EC1A 1AA' } as const;

const PAGE_SIZE = 100;

/** The gateway's CardProvider over the issuing platform's HTTP API (seeds 000/001/004 and docs/provider.md). */
export class HttpCardProvider implements CardProvider {
  constructor(private readonly client: ProviderClient) {}

  async createCard(request: CreateCardRequest): Promise<ProviderCard> {
    const account = await this.createAccount({
      idempotencyKey: `account:${request.projectId}:${request.externalUserId}`,
      reference: cardholderIdFor(request.projectId, request.externalUserId),
      name: 'Cardholder',
    });
    const body: WireCreateCard = {
      type: 'virtual',
      billingAddress: { ...PROGRAMME_BILLING_ADDRESS },
      currency: request.currency,
      externalId: request.orderId,
      ...(request.label !== undefined && { label: request.label }),
    };
    const made = await this.write<WireCard>('POST', `/v1/accounts/${encodeURIComponent(account.accountId)}/cards`, request.idempotencyKey, body);
    // A repeated key answers what the first call answered (`issuing`): ask where the card is now.
    return made.status === 'issuing' ? this.getCard(made.id) : toCard(made);
  }

  async getCard(providerCardId: string): Promise<ProviderCard> {
    return toCard(await this.read<WireCard>(`/v1/cards/${encodeURIComponent(providerCardId)}`));
  }

  async topUp(request: TopUpRequest): Promise<TopUpResult> {
    return this.moveFunds('load', request);
  }

  async withdraw(request: TopUpRequest): Promise<TopUpResult> {
    return this.moveFunds('unload', request);
  }

  async verifyTopUp(providerCardId: string, topUpId: string): Promise<TopUpResult> {
    try {
      const load = await this.read<WireFundsMovement>(`/v1/cards/${encodeURIComponent(providerCardId)}/loads/${encodeURIComponent(topUpId)}`);
      return { topUpId: load.id, status: load.status };
    } catch (err) {
      // A load the provider does not know did not land.
      if (err instanceof ProviderError && err.status === 404) return { topUpId, status: 'failed' };
      throw err;
    }
  }

  async readCardSecrets(providerCardId: string): Promise<CardSecrets> {
    const s = await this.read<WireCardSensitive>(`/v1/cards/${encodeURIComponent(providerCardId)}/sensitive`);
    const [month, year] = s.expirationDate.split('/').map(Number);
    return { pan: s.pan, cvv: s.cvv, expiryMonth: month!, expiryYear: year! };
  }

  async createAccount(request: CreateAccountRequest): Promise<ProviderAccount> {
    const { billingAddress: a, email, phone } = request;
    const body: WireCreateAccount = {
      reference: request.reference,
      name: request.name,
      ...(a && {
        billingAddress: {
          firstLine: a.line1,
          ...(a.line2 !== undefined && { secondLine: a.line2 }),
          city: a.city,
          ...(a.state !== undefined && { state: a.state }),
          country: a.country,
          postCode: a.postalCode,
        },
      }),
      ...(email !== undefined && { email }),
      ...(phone !== undefined && { phone }),
    };
    return toAccount(await this.write<WireAccount>('POST', '/v1/accounts', request.idempotencyKey, body));
  }

  async getAccount(accountId: string): Promise<ProviderAccount> {
    return toAccount(await this.read<WireAccount>(`/v1/accounts/${encodeURIComponent(accountId)}`));
  }

  async listCards(query: { accountId?: string; page?: number }): Promise<CardPage> {
    const path = query.accountId ? `/v1/accounts/${encodeURIComponent(query.accountId)}/cards` : '/v1/cards';
    const page = await this.read<WireCardPage>(`${path}?page=${query.page ?? 1}&pageSize=${PAGE_SIZE}`);
    return { cards: page.items.map(toCard), ...(page.nextPage !== undefined && { nextPage: page.nextPage }) };
  }

  async deactivate(request: CardChangeRequest): Promise<ProviderCard> {
    return toCard(await this.write<WireCard>('PATCH', `/v1/cards/${encodeURIComponent(request.providerCardId)}/deactivate`, request.idempotencyKey));
  }

  async activate(request: CardChangeRequest): Promise<ProviderCard> {
    return toCard(await this.write<WireCard>('PATCH', `/v1/cards/${encodeURIComponent(request.providerCardId)}/activate`, request.idempotencyKey));
  }

  async terminate(request: CardChangeRequest): Promise<ProviderCard> {
    return toCard(await this.write<WireCard>('DELETE', `/v1/cards/${encodeURIComponent(request.providerCardId)}`, request.idempotencyKey));
  }

  private async moveFunds(direction: 'load' | 'unload', request: TopUpRequest): Promise<TopUpResult> {
    const body: WireMoveFunds = { amount: request.amount, currency: request.currency };
    const moved = await this.write<WireFundsMovement>('POST', `/v1/cards/${encodeURIComponent(request.providerCardId)}/${direction}`, request.idempotencyKey, body);
    return { topUpId: moved.id, status: moved.status };
  }

  private async read<T>(path: string): Promise<T> {
    return (await this.client.send<T>('GET', path)).body;
  }

  private async write<T>(method: 'POST' | 'PATCH' | 'DELETE', path: string, key: string, body?: unknown): Promise<T> {
    return (await this.client.send<T>(method, path, { idempotencyKey: key, body })).body;
  }
}

const VERIFICATION: Record<WireAccount['status'], ProviderAccount['verification']> = { pending: 'pending', active: 'verified', rejected: 'rejected' };

function toAccount(account: WireAccount): ProviderAccount {
  return { accountId: account.id, reference: account.reference, verification: VERIFICATION[account.status] };
}

function toCard(card: WireCard): ProviderCard {
  return { providerCardId: card.id, status: card.status, maskedPan: card.maskedPan, currency: card.currency, balance: card.balance, orderId: card.externalId };
}
