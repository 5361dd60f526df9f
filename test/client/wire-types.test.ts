import assert from 'node:assert/strict';
import type { z } from 'zod';
import { cardChangeBody, moveFundsBody } from '../../src/card-ops/card-op-requests.js';
import type { CardStatus as ServerCardStatus } from '../../src/cards/card-model.js';
import type { VerificationStatus } from '../../src/cardholders/cardholder-model.js';
import { createCardholderBody, getCardholderBody, type PartnerCardholderView } from '../../src/cardholders/cardholder-request.js';
import type {
  CardChangeRequest,
  Cardholder,
  CardholderStatus,
  CardStatus,
  CreateCardholderRequest,
  GetCardholderRequest,
  MoveFundsRequest,
  OrderType,
  PartnerOrder,
} from '@card-gateway/client';
import type { partnerOrderView } from '../../src/openapi/response-schemas.js';
import type { OrderType as ServerOrderType } from '../../src/orders/order-model.js';

/**
 * The client's wire types are written out on their own (the client package must not import server
 * code), so they are checked here against the server's: the build fails when the two drift apart.
 */

/** Flattens intersections, deeply, so equal shapes written differently compare equal. */
type Deep<T> = T extends object ? { [K in keyof T]: Deep<T[K]> } : T;
/** True only when A and B are the same type (optional and nullable fields included). */
type Equal<A, B> = (<T>() => T extends Deep<A> ? 1 : 2) extends <T>() => T extends Deep<B> ? 1 : 2 ? true : false;
const same = <A, B>(proof: Equal<A, B>): Equal<A, B> => proof;

/** external_user_id is optional and nullable in the schema only so that its absence gets its own slug (external_user_id_required). */
type WithUserId<T> = Omit<T, 'external_user_id'> & { external_user_id: string };

same<CreateCardholderRequest, WithUserId<z.input<typeof createCardholderBody>>>(true);
same<GetCardholderRequest, WithUserId<z.input<typeof getCardholderBody>>>(true);
same<MoveFundsRequest, z.input<typeof moveFundsBody>>(true);
same<CardChangeRequest, z.input<typeof cardChangeBody>>(true);
same<Cardholder, PartnerCardholderView>(true);
same<CardholderStatus, VerificationStatus>(true);
same<CardStatus, ServerCardStatus>(true);
same<OrderType, ServerOrderType>(true);
same<PartnerOrder, z.output<typeof partnerOrderView>>(true);

describe('partner client wire types', () => {
  it('when a request is written with the client types, then the schema the server validates it with accepts it', () => {
    const holder: CreateCardholderRequest = {
      external_user_id: 'user-42',
      name: { first: 'Ada', last: 'Lovelace' },
      billing_address: { line1: '1 Analytical St', line2: 'Flat 2', city: 'London', postal_code: 'N1 9GU', country: 'GB', state: 'Greater London' },
      contact: { email: 'ada@example.com', phone: '+447700900123' },
    };
    const funds: MoveFundsRequest = { card_id: 'card_1', amount: '10.50', currency: 'USD' };
    const change: CardChangeRequest = { card_id: 'card_1' };
    const lookup: GetCardholderRequest = { external_user_id: 'user-42' };
    assert.deepEqual(createCardholderBody.parse(holder), holder);
    assert.deepEqual(moveFundsBody.parse(funds), funds);
    assert.deepEqual(cardChangeBody.parse(change), change);
    assert.deepEqual(getCardholderBody.parse(lookup), lookup);
  });
});
