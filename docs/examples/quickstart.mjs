// Orders a card for a cardholder who is already verified, from plain JavaScript (ES modules).
//   PARTNER_PROJECT_ID=prj_… node quickstart.mjs external_user_id
import { PartnerClient, loadKeyFolder } from '@card-gateway/client';

const user = process.argv[2];
if (!user) throw new Error('usage: node quickstart.mjs external_user_id (a verified cardholder of your project)');

const client = new PartnerClient({
  baseUrl: process.env.PARTNER_GATEWAY_URL ?? 'http://127.0.0.1:8080',
  projectId: process.env.PARTNER_PROJECT_ID,
  ...(await loadKeyFolder()),
});

const { data: order, idempotentReplayed } = await client.createCard({
  product_code: process.env.PARTNER_PRODUCT_CODE ?? 'DEMO_VIRTUAL_USD',
  external_user_id: user,
});
const { data: done } = await client.waitForOrder({ order_id: order.order_id });
console.log(JSON.stringify({ order_id: done.order_id, status: done.status, card_id: done.card_id, replayed: idempotentReplayed }));
