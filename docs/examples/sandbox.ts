/**
 * Testing your integration against the sandbox (a development or sandbox gateway only): hold the
 * next card of a cardholder at the provider, see the order wait, then let the card be issued.
 *   PARTNER_PROJECT_ID=prj_… node sandbox.js external_user_id
 */
import { PartnerClient, loadKeyFolder, type PartnerOrder } from '@card-gateway/client';

const projectId = process.env.PARTNER_PROJECT_ID;
const user = process.argv[2];
if (!projectId || !user) throw new Error('usage: PARTNER_PROJECT_ID=prj_… node sandbox.js external_user_id (a verified cardholder)');
const client = new PartnerClient({ baseUrl: process.env.PARTNER_GATEWAY_URL ?? 'http://127.0.0.1:8080', projectId, ...(await loadKeyFolder()) });

// The rule: this cardholder's cards wait at the provider until told (answers the rule as set).
const { data: rule } = await client.call('/api/v1/sandbox/rules/set', { external_user_id: user, card_issue: 'hold' });
console.log(JSON.stringify({ rule }));

const { data: order } = await client.createCard({ product_code: process.env.PARTNER_PRODUCT_CODE ?? 'DEMO_VIRTUAL_USD', external_user_id: user });
// Held: the order stays activating, card_create_pending, while the provider says issuing.
let held: PartnerOrder = order;
for (let waited = 0; held.provider_card_status !== 'issuing'; waited += 250) {
  if (waited > 30_000) throw new Error('the card never reached the provider');
  await new Promise((resolve) => setTimeout(resolve, 250));
  held = (await client.checkOrder({ order_id: order.order_id })).data;
}
console.log(JSON.stringify({ order_id: held.order_id, status: held.status, issue_status: held.issue_status, provider_card_status: held.provider_card_status }));

// Issue it (sandbox/cards/fail would fail it instead, refunding the order).
const { data: settled } = await client.call('/api/v1/sandbox/cards/issue', { order_id: order.order_id });
const { data: done } = await client.waitForOrder({ order_id: order.order_id });
console.log(JSON.stringify({ settled, order_id: done.order_id, status: done.status, card_id: done.card_id }));

await client.call('/api/v1/sandbox/rules/clear', { external_user_id: user }); // back to issuing at once
