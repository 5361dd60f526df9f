/**
 * A card's life after issue: top it up from the master balance, freeze and unfreeze it, withdraw
 * to the master balance, terminate it, and the refusal a terminated card answers. Each operation
 * is an order (201 at once), carried to the card provider in the background.
 *   PARTNER_PROJECT_ID=prj_… node card-operations.js card_…
 */
import { GatewayApiError, PartnerClient, loadKeyFolder, type GatewayResponse, type PartnerOrder } from '@card-gateway/client';

const projectId = process.env.PARTNER_PROJECT_ID;
const cardId = process.argv[2];
if (!projectId || !cardId) throw new Error('usage: PARTNER_PROJECT_ID=prj_… node card-operations.js card_…');
const client = new PartnerClient({ baseUrl: process.env.PARTNER_GATEWAY_URL ?? 'http://127.0.0.1:8080', projectId, ...(await loadKeyFolder()) });

/** Sends one operation (an Idempotency-Key is generated) and waits for its order to end. */
async function operate(name: string, send: Promise<GatewayResponse<PartnerOrder>>): Promise<PartnerOrder> {
  const { status, data: accepted } = await send; // 201: accepted, charged where it charges
  const { data: order } = await client.waitForOrder({ order_id: accepted.order_id });
  console.log(JSON.stringify({ operation: name, answered: status, order_id: order.order_id, status: order.status, balance_before: order.balance_before, balance_after: order.balance_after }));
  return order;
}

const { data: card } = await client.getCard({ card_id: cardId });
await operate('top-up', client.topUp({ card_id: cardId, amount: '10.50', currency: card.currency }));
await operate('freeze', client.freeze({ card_id: cardId }));
await operate('unfreeze', client.unfreeze({ card_id: cardId }));
await operate('withdraw', client.withdraw({ card_id: cardId, amount: '5.00', currency: card.currency })); // credited once the provider confirmed
await operate('terminate', client.terminate({ card_id: cardId })); // final

try {
  await client.topUp({ card_id: cardId, amount: '1.00', currency: card.currency });
} catch (err) {
  if (!(err instanceof GatewayApiError)) throw err;
  // 409 card_terminated, stored as a failed order (order_id) with nothing charged.
  console.log(JSON.stringify({ operation: 'top-up after terminate', refused: err.status, slug: err.slug, order_id: err.order_id }));
}
