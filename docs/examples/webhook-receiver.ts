/**
 * A webhook endpoint: opens each delivery with the client (decrypts it, verifies the gateway's
 * signature, checks it is a current event for this project and that its Webhook-Id and
 * Webhook-Type headers name it), acts on each event once, and answers 2xx. Register its URL with
 * the gateway operator.
 *   PARTNER_PROJECT_ID=prj_… PORT=3000 node webhook-receiver.js
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PartnerClient, WebhookEventError, loadKeyFolder, type WebhookEvent } from '@card-gateway/client';

const projectId = process.env.PARTNER_PROJECT_ID;
if (!projectId) throw new Error('set PARTNER_PROJECT_ID to your project id (prj_…)');
const client = new PartnerClient({ baseUrl: process.env.PARTNER_GATEWAY_URL ?? 'http://127.0.0.1:8080', projectId, ...(await loadKeyFolder()) });

// Events arrive at least once: remember what was handled (in your database, not in memory).
const handled = new Set<string>();

function handle(event: WebhookEvent): void {
  switch (event.type) {
    case 'card.active':
    case 'card.frozen':
    case 'card.terminated':
      console.log(JSON.stringify({ type: event.type, id: event.id, card_id: event.data.card_id, status: event.data.status, sequence: event.sequence }));
      break;
    case 'cardholder.verified':
    case 'cardholder.rejected':
      console.log(JSON.stringify({ type: event.type, id: event.id, external_user_id: event.data.external_user_id, status: event.data.status }));
      break;
    case 'order.created':
    case 'order.activating':
    case 'order.processing':
    case 'order.completed':
    case 'order.failed':
      console.log(JSON.stringify({ type: event.type, id: event.id, order_id: event.data.order_id, status: event.data.status, slug: event.data.last_error_slug }));
      break;
    default:
      console.log(JSON.stringify({ type: (event as WebhookEvent).type, id: (event as WebhookEvent).id }));
  }
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    client.openEvent(Buffer.concat(chunks), req.headers).then(
      (event) => {
        if (!handled.has(event.id)) {
          handle(event);
          handled.add(event.id);
        }
        res.writeHead(204).end();
      },
      (err: unknown) => {
        // Not a genuine, current event for this project: refuse it, act on nothing.
        console.error(err instanceof WebhookEventError ? `refused a delivery: ${err.reason}` : err);
        res.writeHead(err instanceof WebhookEventError ? 400 : 500).end();
      },
    );
  });
});
server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  console.log(`listening on http://${process.env.HOST ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}/`);
});
