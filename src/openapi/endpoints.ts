import { z } from 'zod';
import { addKeySchema, createSchema as createProjectSchema } from '../back-office/projects-admin.js';
import { createSchema as createCardholderSchema, statusSchema as verificationSchema } from '../back-office/cardholders-admin.js';
import { createSchema as createProductSchema, updateSchema as updateProductSchema } from '../back-office/products-admin.js';
import { fundSchema } from '../back-office/funding.js';
import { orderFilterSchema, pageSchema } from '../back-office/order-lookup.js';
import { reconcileSchema } from '../admin/admin-routes.js';
import { STAFF_CARD_ACTIONS, staffCardChangeSchema } from '../card-ops/card-ops-admin.js';
import { cardChangeBody, moveFundsBody, type CardOpType } from '../card-ops/card-op-requests.js';
import { CARD_OP_PATHS } from '../card-ops/card-ops-routes.js';
import { getCardBody } from '../cards/card-service.js';
import { createCardholderBody, getCardholderBody } from '../cardholders/cardholder-request.js';
import { CARDHOLDER_PATHS } from '../cardholders/cardholders-feature.js';
import { failSchema, refundSchema, retrySchema } from '../order-repair/order-repair.js';
import type { Slug } from '../errors/slugs.js';
import { createCardBody } from '../orders/create-card-request.js';
import { checkOrderBody } from '../orders/order-handlers.js';
import { PARTNER_PATHS } from '../partner-api/routes.js';
import { SANDBOX_PATHS, clearRuleRequest } from '../provider/sandbox-handlers.js';
import { sandboxCardRequest, sandboxRuleRequest } from '../provider/sandbox-simulator.js';
import { endpointSchema, eventsQuery } from '../webhooks/webhook-admin.js';
import { balanceBody, listCardsBody, listOrdersBody } from '../partner-ops/list-requests.js';
import * as R from './response-schemas.js';

/**
 * One entry per endpoint: the OpenAPI document (document.ts) is generated from this list, and the
 * conformance test calls every entry. Request schemas are the ones the code validates with;
 * answers are the zod schemas of response-schemas.ts. Adding an endpoint is adding an entry.
 */
export interface EndpointDescriptor {
  api: 'partner' | 'admin';
  method: 'get' | 'post' | 'put' | 'patch';
  /** OpenAPI path, parameters as {name}. */
  path: string;
  summary: string;
  /** Partner: the `body` claim inside the envelope. Admin: the JSON body. */
  body?: z.ZodType;
  /** Query parameters (admin GETs). */
  query?: z.ZodObject;
  /** Success answers by status: the schema of `data`. */
  responses: Record<number, z.ZodType>;
  /** Error slugs this endpoint itself answers, beyond the API's common ones (COMMON_SLUGS). */
  slugs: Slug[];
  /** Request headers beyond the envelope's. */
  headers?: { name: string; required: boolean; description: string }[];
  /** A sandbox endpoint: mounted only when SANDBOX_SIMULATOR_ENABLED (tagged `sandbox`). */
  sandbox?: true;
}

/** Slugs any endpoint of the API can answer. */
export const COMMON_SLUGS: Record<EndpointDescriptor['api'], Slug[]> = {
  partner: [
    'validation_error',
    'invalid_encryption',
    'unknown_key_id',
    'unsupported_algorithm',
    'invalid_signature',
    'unknown_project',
    'request_expired',
    'replay_detected',
    'request_binding_mismatch',
    'project_disabled',
    'payload_too_large',
    'unsupported_media_type',
    'rate_limited',
    'internal_error',
    'service_unavailable',
  ],
  admin: ['unauthorized', 'validation_error', 'payload_too_large', 'internal_error', 'service_unavailable'],
};

const IDEMPOTENCY_HEADER = { name: 'Idempotency-Key', required: true, description: '1-255 visible ASCII characters; must equal the `idk` claim.' };

/** Every card operation: the card's own refusals (card-op-rules.ts), first failure wins. */
const CARD_OP_SLUGS: Slug[] = ['idempotency_key_required', 'idempotency_key_reused', 'card_not_found', 'card_not_ready', 'card_terminated'];

/** Per operation: its summary and the refusals beyond CARD_OP_SLUGS. */
const CARD_OPS: Record<CardOpType, { summary: string; body: z.ZodType; slugs: Slug[] }> = {
  card_topup: {
    summary: 'Load a card from the master balance (a card_topup order, charged at once)',
    body: moveFundsBody,
    slugs: ['card_frozen', 'currency_mismatch', 'amount_below_minimum', 'amount_above_maximum', 'insufficient_funds'],
  },
  card_withdraw: {
    summary: 'Unload a card back to the master balance (a card_withdraw order, credited once the provider confirmed)',
    body: moveFundsBody,
    slugs: ['card_frozen', 'currency_mismatch', 'amount_below_minimum', 'amount_above_maximum', 'card_balance_insufficient'],
  },
  card_freeze: { summary: 'Freeze an active card (a card_freeze order)', body: cardChangeBody, slugs: ['card_already_frozen'] },
  card_unfreeze: { summary: 'Unfreeze a frozen card (a card_unfreeze order)', body: cardChangeBody, slugs: ['card_not_frozen'] },
  card_terminate: { summary: 'Terminate a card for good (a card_terminate order)', body: cardChangeBody, slugs: [] },
};

export const ENDPOINTS: EndpointDescriptor[] = [
  // --- partner API (contract section 3) ---
  {
    api: 'partner', method: 'post', path: PARTNER_PATHS.createCard, summary: 'Order a virtual card',
    body: createCardBody, responses: { 201: R.partnerOrderView },
    slugs: ['idempotency_key_required', 'external_user_id_required', 'idempotency_key_reused', 'product_not_found', 'product_not_active', 'cardholder_not_found', 'cardholder_not_ready', 'cardholder_rejected', 'invalid_pricing', 'card_product_limits_invalid', 'amount_below_minimum', 'amount_above_maximum', 'insufficient_funds'],
    headers: [IDEMPOTENCY_HEADER],
  },
  { api: 'partner', method: 'post', path: PARTNER_PATHS.checkOrder, summary: 'Read an order by id or idempotency key', body: checkOrderBody, responses: { 200: R.partnerOrderView }, slugs: ['order_not_found'] },
  { api: 'partner', method: 'post', path: PARTNER_PATHS.listCards, summary: "The project's cards, newest first, keyset paged", body: listCardsBody, responses: { 200: R.cardPage }, slugs: [] },
  { api: 'partner', method: 'post', path: PARTNER_PATHS.listOrders, summary: "The project's orders, newest first, keyset paged", body: listOrdersBody, responses: { 200: R.partnerOrderPage }, slugs: [] },
  { api: 'partner', method: 'post', path: PARTNER_PATHS.balance, summary: 'The master balance and a page of its ledger statement', body: balanceBody, responses: { 200: R.balanceStatement }, slugs: [] },
  { api: 'partner', method: 'post', path: PARTNER_PATHS.getCard, summary: "Read an issued card's data (PAN, CVV, expiry)", body: getCardBody, responses: { 200: R.cardDataView }, slugs: ['card_not_found', 'card_not_ready', 'order_not_found'] },
  {
    api: 'partner', method: 'post', path: CARDHOLDER_PATHS.createCardholder, summary: 'Register a cardholder (201 new and pending; 200 the one the project already has for the external_user_id)',
    body: createCardholderBody, responses: { 201: R.partnerCardholderView, 200: R.partnerCardholderView }, slugs: ['external_user_id_required'],
  },
  { api: 'partner', method: 'post', path: CARDHOLDER_PATHS.getCardholder, summary: 'Read a cardholder of the project by external_user_id', body: getCardholderBody, responses: { 200: R.partnerCardholderView }, slugs: ['external_user_id_required', 'cardholder_not_found'] },
  ...(Object.entries(CARD_OPS) as [CardOpType, (typeof CARD_OPS)[CardOpType]][]).map(
    ([type, op]): EndpointDescriptor => ({
      api: 'partner', method: 'post', path: CARD_OP_PATHS[type], summary: op.summary, body: op.body, responses: { 201: R.partnerOrderView },
      slugs: [...CARD_OP_SLUGS, ...op.slugs], headers: [IDEMPOTENCY_HEADER],
    }),
  ),

  // --- the sandbox (partner API, mounted only when SANDBOX_SIMULATOR_ENABLED: outside production by default) ---
  {
    api: 'partner', method: 'post', path: SANDBOX_PATHS.setRule, summary: "Sandbox only: set how the provider simulator treats one cardholder's cards (replaces the cardholder's rule; answers it)",
    body: sandboxRuleRequest, responses: { 200: R.sandboxRule }, slugs: [], sandbox: true,
  },
  { api: 'partner', method: 'post', path: SANDBOX_PATHS.clearRule, summary: "Sandbox only: back to the default rule (auto, succeed)", body: clearRuleRequest, responses: { 200: R.sandboxRule }, slugs: [], sandbox: true },
  {
    api: 'partner', method: 'post', path: SANDBOX_PATHS.issueCard, summary: 'Sandbox only: a card held at the provider (rule card_issue hold) becomes active; its order continues',
    body: sandboxCardRequest, responses: { 200: R.sandboxSettledCard }, slugs: ['card_not_found', 'conflict'], sandbox: true,
  },
  {
    api: 'partner', method: 'post', path: SANDBOX_PATHS.failCard, summary: 'Sandbox only: a held card fails; its order fails (card_create_error, provider_declined) and is refunded',
    body: sandboxCardRequest, responses: { 200: R.sandboxSettledCard }, slugs: ['card_not_found', 'conflict'], sandbox: true,
  },

  // --- admin API (contract section 5) ---
  { api: 'admin', method: 'get', path: '/admin/v1/slugs', summary: 'Every error slug with its status and message', responses: { 200: R.slugList }, slugs: [] },
  { api: 'admin', method: 'get', path: '/admin/v1/orders', summary: 'Look orders up, newest first, keyset paged', query: orderFilterSchema.extend(pageSchema.shape), responses: { 200: R.orderPage }, slugs: [] },
  { api: 'admin', method: 'get', path: '/admin/v1/orders/slug-counts', summary: 'Counts per error slug for a filter', query: orderFilterSchema, responses: { 200: R.slugCounts }, slugs: [] },
  { api: 'admin', method: 'get', path: '/admin/v1/orders/{order_id}', summary: 'One order', responses: { 200: R.staffOrderView }, slugs: ['not_found'] },
  { api: 'admin', method: 'post', path: '/admin/v1/orders/{order_id}/retry', summary: 'Make an unfinished card order due now, its attempts reset (audited)', body: retrySchema, responses: { 200: R.staffOrderView }, slugs: ['order_not_found', 'order_not_retryable'] },
  { api: 'admin', method: 'post', path: '/admin/v1/orders/{order_id}/fail', summary: 'Fail a stuck card order by hand (failed_by_staff) and refund what is owed, once (audited)', body: failSchema, responses: { 200: R.repairResult }, slugs: ['order_not_found', 'order_not_failable'] },
  { api: 'admin', method: 'post', path: '/admin/v1/orders/{order_id}/refund', summary: 'Write the missing refund of a failed order, once (audited)', body: refundSchema, responses: { 201: R.repairResult }, slugs: ['order_not_found', 'refund_not_owed', 'already_refunded'] },
  { api: 'admin', method: 'get', path: '/admin/v1/projects', summary: 'Every project', responses: { 200: z.array(R.projectView) }, slugs: [] },
  { api: 'admin', method: 'post', path: '/admin/v1/projects', summary: 'Create a project', body: createProjectSchema, responses: { 201: R.projectView }, slugs: ['conflict'] },
  { api: 'admin', method: 'get', path: '/admin/v1/projects/{project_id}', summary: 'One project', responses: { 200: R.projectView }, slugs: ['not_found'] },
  { api: 'admin', method: 'post', path: '/admin/v1/projects/{project_id}/disable', summary: 'Disable a project', responses: { 200: R.projectView }, slugs: ['not_found'] },
  { api: 'admin', method: 'post', path: '/admin/v1/projects/{project_id}/enable', summary: 'Enable a project', responses: { 200: R.projectView }, slugs: ['not_found'] },
  ...(['signing', 'encryption'] as const).flatMap((use): EndpointDescriptor[] => [
    { api: 'admin', method: 'post', path: `/admin/v1/projects/{project_id}/${use}-keys`, summary: `Register a ${use} key (public JWK)`, body: addKeySchema, responses: { 201: R.keyView }, slugs: ['not_found', 'conflict', 'unsupported_algorithm'] },
    { api: 'admin', method: 'post', path: `/admin/v1/projects/{project_id}/${use}-keys/{kid}/retire`, summary: `Retire a ${use} key`, body: z.strictObject({ force: z.boolean().optional() }), responses: { 200: R.keyView }, slugs: ['not_found', 'conflict'] },
  ]),
  {
    api: 'admin', method: 'post', path: '/admin/v1/projects/{project_id}/deposits', summary: "Fund a project's balance (idempotent)", body: fundSchema,
    responses: { 201: R.orderView, 200: R.orderView }, slugs: ['not_found', 'conflict', 'idempotency_key_reused'],
    headers: [{ name: 'Idempotency-Key', required: false, description: 'Instead of the idempotency_key field; 200 with Idempotent-Replayed: true on a repeat.' }],
  },
  { api: 'admin', method: 'get', path: '/admin/v1/projects/{project_id}/cardholders', summary: "A project's cardholders (first 100)", responses: { 200: z.array(R.cardholderView) }, slugs: ['not_found'] },
  { api: 'admin', method: 'post', path: '/admin/v1/projects/{project_id}/cardholders', summary: 'Create a cardholder', body: createCardholderSchema, responses: { 201: R.cardholderView }, slugs: ['not_found', 'conflict'] },
  { api: 'admin', method: 'get', path: '/admin/v1/projects/{project_id}/cardholders/{external_user_id}', summary: 'One cardholder', responses: { 200: R.cardholderView }, slugs: ['not_found'] },
  { api: 'admin', method: 'put', path: '/admin/v1/projects/{project_id}/cardholders/{external_user_id}/verification', summary: "Set a cardholder's verification status", body: verificationSchema, responses: { 200: R.cardholderView }, slugs: ['not_found'] },
  { api: 'admin', method: 'get', path: '/admin/v1/products', summary: 'Every product', responses: { 200: z.array(R.productView) }, slugs: [] },
  { api: 'admin', method: 'post', path: '/admin/v1/products', summary: 'Create a product', body: createProductSchema, responses: { 201: R.productView }, slugs: ['conflict'] },
  { api: 'admin', method: 'get', path: '/admin/v1/products/{product_code}', summary: 'One product', responses: { 200: R.productView }, slugs: ['not_found'] },
  { api: 'admin', method: 'patch', path: '/admin/v1/products/{product_code}', summary: 'Change a product', body: updateProductSchema, responses: { 200: R.productView }, slugs: ['not_found'] },
  { api: 'admin', method: 'post', path: '/admin/v1/products/{product_code}/deactivate', summary: 'Deactivate a product', responses: { 200: R.productView }, slugs: ['not_found'] },
  { api: 'admin', method: 'post', path: '/admin/v1/products/{product_code}/activate', summary: 'Activate a product', responses: { 200: R.productView }, slugs: ['not_found'] },
  { api: 'admin', method: 'put', path: '/admin/v1/projects/{project_id}/webhook', summary: "Register (or replace) the project's webhook endpoint", body: endpointSchema, responses: { 200: R.webhookEndpointView }, slugs: ['not_found', 'webhook_url_refused'] },
  { api: 'admin', method: 'get', path: '/admin/v1/projects/{project_id}/webhook', summary: "The project's webhook endpoint", responses: { 200: R.webhookEndpointView }, slugs: ['not_found'] },
  { api: 'admin', method: 'post', path: '/admin/v1/projects/{project_id}/webhook/disable', summary: 'Stop webhook deliveries (pending events wait)', responses: { 200: R.webhookEndpointView }, slugs: ['not_found'] },
  { api: 'admin', method: 'get', path: '/admin/v1/projects/{project_id}/webhook/events', summary: 'The delivery log, newest event first, keyset paged', query: eventsQuery, responses: { 200: R.webhookEventPage }, slugs: [] },
  { api: 'admin', method: 'get', path: '/admin/v1/projects/{project_id}/webhook/events/{event_id}', summary: 'One event with every delivery attempt', responses: { 200: R.webhookEventDetail }, slugs: ['not_found'] },
  { api: 'admin', method: 'post', path: '/admin/v1/projects/{project_id}/webhook/events/{event_id}/redeliver', summary: 'Send an event again (same id) with a fresh retry period', responses: { 200: R.webhookEventLogView }, slugs: ['not_found'] },
  ...Object.keys(STAFF_CARD_ACTIONS).map((action): EndpointDescriptor => ({
    api: 'admin', method: 'post', path: `/admin/v1/cards/{card_id}/${action}`, summary: `${action[0]!.toUpperCase()}${action.slice(1)} a card as staff (a card_${action} order, audited with the reason)`,
    body: staffCardChangeSchema, responses: { 201: R.staffOrderView, 200: R.staffOrderView },
    slugs: ['not_found', 'idempotency_key_required', 'idempotency_key_reused', 'card_not_ready', 'card_terminated', ...(action === 'freeze' ? (['card_already_frozen'] as const) : action === 'unfreeze' ? (['card_not_frozen'] as const) : [])],
    headers: [{ name: 'Idempotency-Key', required: false, description: 'Required unless the body gives idempotency_key; 1-255 visible ASCII characters. 200 with Idempotent-Replayed: true on a repeat.' }],
  })),
  { api: 'admin', method: 'post', path: '/admin/v1/reconciliations', summary: 'Run reconciliation (read-only) and answer the report', body: reconcileSchema, responses: { 200: R.reconcileReport }, slugs: [] },
  {
    api: 'admin', method: 'get', path: '/admin/v1/audit', summary: 'The audit log, newest first',
    query: z.strictObject({ target: z.string().optional(), staff: z.string().optional(), limit: z.string().regex(/^\d+$/).optional().describe('1-500, default 50') }),
    responses: { 200: z.array(R.auditEntry) }, slugs: [],
  },
];
