/**
 * Quickstart: register a user as a cardholder, order a virtual card with an initial balance, wait
 * for it to be issued and read it.
 *   PARTNER_PROJECT_ID=prj_… node quickstart.js [external_user_id]
 * Optional: PARTNER_GATEWAY_URL (default http://127.0.0.1:8080), PARTNER_KEYS_DIR (default: where
 * card-gateway-keygen writes), PARTNER_PRODUCT_CODE (default DEMO_VIRTUAL_USD).
 */
import { randomUUID } from 'node:crypto';
import { GatewayApiError, PartnerClient, loadKeyFolder } from '@card-gateway/client';

const projectId = process.env.PARTNER_PROJECT_ID;
if (!projectId) throw new Error('set PARTNER_PROJECT_ID to your project id (prj_…)');
const client = new PartnerClient({
  baseUrl: process.env.PARTNER_GATEWAY_URL ?? 'http://127.0.0.1:8080',
  projectId,
  // The private keys card-gateway-keygen wrote (signing.private.jwk.json, encryption.private.jwk.json).
  ...(await loadKeyFolder()),
});
const user = process.argv[2] ?? 'user-42';

try {
  // 1. The user as a cardholder: 201 when new, 200 with the one you already have. The card
  //    provider verifies it, often at once; cards are issued to verified cardholders only.
  await client.createCardholder({
    external_user_id: user,
    name: { first: 'Ada', last: 'Lovelace' },
    billing_address: { line1: '12 St James Square', city: 'London', postal_code: 'SW1Y 4JH', country: 'GB' },
    contact: { email: 'ada@example.com' },
  });
  const { data: holder } = await client.waitForCardholder({ external_user_id: user });
  if (holder.status !== 'verified') throw new Error(`cardholder ${user} is ${holder.status}`);

  // 2. The order: fee plus initial balance are charged to your master balance at once. Keep the
  //    Idempotency-Key: a retry with it answers the same order and never charges twice.
  const idempotencyKey = randomUUID();
  const { data: order } = await client.createCard(
    { product_code: process.env.PARTNER_PRODUCT_CODE ?? 'DEMO_VIRTUAL_USD', external_user_id: user, initial_balance: '25.00', label: 'Travel' },
    { idempotencyKey },
  );
  console.log(`order ${order.order_id} ${order.status}, charged ${order.data.total_charge} (balance ${order.balance_before} -> ${order.balance_after})`);

  // 3. The gateway issues the card in the background: wait for the order to end, then read the card.
  const { data: done } = await client.waitForOrder({ order_id: order.order_id });
  if (done.status !== 'completed') throw new Error(`order ${done.order_id} failed: ${done.last_error_slug}`);
  const { data: card } = await client.getCard({ order_id: order.order_id });
  // card.pan and card.cvv are here too: show them to your user only, never log them.
  console.log(JSON.stringify({ order_id: order.order_id, card_id: card.card_id, masked_pan: card.masked_pan, expiry: `${card.expiry_month}/${card.expiry_year}`, status: card.status }));
} catch (err) {
  if (!(err instanceof GatewayApiError)) throw err;
  // The refusal's slug (docs: the slug table); order_id when the refusal was stored as a failed order.
  console.error(`refused: ${err.status} ${err.slug} ${err.message}${err.order_id ? ` (order ${err.order_id})` : ''}`);
  process.exitCode = 1;
}
