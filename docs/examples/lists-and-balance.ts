/**
 * Reconciling from the partner's side: the master balance and the whole statement behind it
 * (checked: the chain has no gap and sums to the balance), the failed orders, and every card.
 *   PARTNER_PROJECT_ID=prj_… node lists-and-balance.js
 */
import { PartnerClient, loadKeyFolder, type StatementEntry } from '@card-gateway/client';

const projectId = process.env.PARTNER_PROJECT_ID;
if (!projectId) throw new Error('set PARTNER_PROJECT_ID to your project id (prj_…)');
const client = new PartnerClient({ baseUrl: process.env.PARTNER_GATEWAY_URL ?? 'http://127.0.0.1:8080', projectId, ...(await loadKeyFolder()) });

/** A decimal string in millionths, exact (amounts have at most 6 decimals). */
const micros = (amount: string): bigint => {
  const [whole = '0', fraction = ''] = amount.replace('-', '').split('.');
  const value = BigInt(whole) * 1_000_000n + BigInt(fraction.padEnd(6, '0'));
  return amount.startsWith('-') ? -value : value;
};

// The statement, newest first, page by page: pass next_cursor back with the same filters.
const first = await client.balance({ limit: 100 });
const entries: StatementEntry[] = [...first.data.entries];
for (let cursor = first.data.next_cursor; cursor !== null; ) {
  const { data: page } = await client.balance({ limit: 100, cursor });
  entries.push(...page.entries);
  cursor = page.next_cursor;
}
const sum = entries.reduce((total, e) => total + micros(e.amount), 0n);
entries.forEach((e, i) => {
  const older = entries[i + 1];
  if (older && (older.seq !== e.seq - 1 || older.balance_after !== e.balance_before)) throw new Error(`the chain breaks at seq ${e.seq}`);
});
if (sum !== micros(first.data.balance)) throw new Error(`the statement sums to ${sum} millionths, the balance is ${first.data.balance}`);
console.log(JSON.stringify({ balance: first.data.balance, currency: first.data.currency, balance_seq: first.data.balance_seq, entries: entries.length }));

// Failed orders (the refused ones too, with the slug they were refused with).
const { data: failed } = await client.listOrders({ status: 'failed', limit: 20 });
console.log(JSON.stringify({ failed: failed.orders.map((o) => ({ order_id: o.order_id, order_type: o.order_type, slug: o.last_error_slug, refunded: o.refunded_amount })) }));

// Every card, 50 a page: the number, CVV and expiry are never in lists (cards/get has them).
let cards = 0;
for (let cursor: string | null | undefined; cursor !== null; ) {
  const { data: page } = await client.listCards({ limit: 50, ...(cursor && { cursor }) });
  cards += page.cards.length;
  cursor = page.next_cursor;
}
console.log(JSON.stringify({ cards }));
