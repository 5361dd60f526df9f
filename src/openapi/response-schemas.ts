import { CARD_STATUSES } from '../cards/card-model.js';
import { LEDGER_KINDS } from '../ledger/ledger-entry-model.js';
import { ORDER_TYPES } from '../orders/order-model.js';
import { z } from 'zod';
import { SLUGS } from '../errors/slugs.js';
import { FAULT_KINDS } from '../reconcile/faults.js';

/**
 * The answers' shapes in zod, for the OpenAPI document (src/openapi/endpoints.ts). The conformance
 * test checks real answers against the document these produce, so a view that changes without
 * its schema fails the build. Absent values are `null`, never missing.
 */
const iso = z.string().describe('ISO 8601 time, UTC');
const decimal = z.string().regex(/^-?\d+(\.\d+)?$/).describe('decimal string in the currency of the balance, e.g. "10.50"');
const nullable = <T extends z.ZodType>(t: T) => t.nullable();

export const orderStatus = z.enum(['new', 'activating', 'processing', 'completed', 'failed']);

export const orderView = z.strictObject({
  order_id: z.string(),
  order_type: z.enum(ORDER_TYPES),
  status: orderStatus,
  card_id: nullable(z.string()),
  balance_before: nullable(decimal),
  balance_after: nullable(decimal),
  last_error: nullable(z.string()),
  last_error_slug: nullable(z.string()).describe('one of the slugs; set on failed orders'),
  data: z
    .object({
      product_code: z.string().optional(),
      card_id: z.string().optional().describe('card operations: the card named in the request'),
      product_id: z.number().int().optional(),
      external_user_id: z.string().optional(),
      label: z.string().optional(),
      currency: z.string().optional(),
      initial_balance: decimal.optional(),
      issue_fee: decimal.optional(),
      total_charge: decimal.optional(),
      amount: decimal.optional(),
      reason: z.string().optional(),
    })
    .describe('the request fields and amounts as accepted'),
  created_at: iso,
  updated_at: iso,
  completed_at: nullable(iso),
  failed_at: nullable(iso),
  issue_status: nullable(z.string()),
  is_issued: z.boolean(),
  provider_card_status: nullable(z.string()),
  external_id: nullable(z.string()),
});

export const staffOrderView = orderView.extend({
  project_id: z.string(),
  created_by: nullable(z.string()).describe('`staff:<name>` for a card operation staff made; null when the partner made the order'),
});

/** A partner's order answers also carry the ledger's refunds of the order (docs/partner-api.md). */
export const partnerOrderView = orderView.extend({
  refunded_amount: decimal,
  refunds: z.array(z.strictObject({ amount: decimal, ledger_seq: z.number().int(), created_at: iso })),
});

const nextCursor = nullable(z.string()).describe('opaque, bound to this endpoint, project and filters; pass it as `cursor` with the same filters for the next page, null on the last');

/** A card as cards/list and the card events show it: never the number, CVV or expiry. */
export const cardListItem = z.strictObject({
  card_id: z.string(),
  order_id: z.string(),
  status: z.enum(CARD_STATUSES),
  masked_pan: z.string(),
  currency: z.string(),
  product_code: z.string(),
  external_user_id: z.string(),
  label: nullable(z.string()),
  balance: nullable(decimal).describe('as the provider last reported it after a top-up or withdrawal; null until then'),
  created_at: iso,
  updated_at: iso,
});

export const cardPage = z.strictObject({ cards: z.array(cardListItem), next_cursor: nextCursor });

export const partnerOrderPage = z.strictObject({ orders: z.array(partnerOrderView), next_cursor: nextCursor });

/** balance: the master balance and a page of its ledger statement, newest first. */
export const balanceStatement = z.strictObject({
  currency: z.string(),
  balance: decimal,
  balance_seq: z.number().int().describe('the ledger entry the balance is read from (0: none yet)'),
  entries: z.array(
    z.strictObject({
      seq: z.number().int(),
      kind: z.enum(LEDGER_KINDS),
      amount: decimal.describe('signed: charges are negative'),
      balance_before: decimal,
      balance_after: decimal,
      currency: z.string(),
      order_id: z.string(),
      order_type: nullable(z.string()),
      card_id: nullable(z.string()),
      external_id: nullable(z.string()),
      created_at: iso,
    }),
  ),
  next_cursor: nextCursor,
});

export const cardDataView = z.strictObject({
  card_id: z.string(),
  status: z.string(),
  masked_pan: z.string(),
  pan: z.string().regex(/^\d{12,19}$/),
  cvv: z.string().regex(/^\d{3,4}$/),
  expiry_month: z.number().int().min(1).max(12),
  expiry_year: z.number().int().min(2000).max(2100),
  currency: z.string(),
  product_code: z.string(),
  external_user_id: z.string(),
  label: nullable(z.string()),
  created_at: iso,
});

/** cardholders/create and cardholders/get (src/cardholders/cardholder-request.ts). */
export const partnerCardholderView = z.strictObject({
  cardholder_id: z.string(),
  external_user_id: z.string(),
  status: z.enum(['pending', 'verified', 'rejected']),
  name: z.strictObject({ first: nullable(z.string()), last: nullable(z.string()) }),
  billing_address: nullable(
    z.strictObject({ line1: z.string(), line2: nullable(z.string()), city: z.string(), postal_code: z.string(), country: z.string(), state: nullable(z.string()) }),
  ).describe('null for a cardholder made by staff'),
  contact: nullable(z.strictObject({ email: z.string(), phone: nullable(z.string()) })).describe('null for a cardholder made by staff'),
  created_at: iso,
  updated_at: iso,
  verified_at: nullable(iso),
  rejected_at: nullable(iso),
});

/** The sandbox's answers (src/provider/sandbox-handlers.ts). */
const sandboxFailure = z.strictObject({ failure: z.enum(['declined', 'unavailable', 'timeout']), times: z.number().int() });
export const sandboxRule = z.strictObject({
  external_user_id: z.string(),
  card_issue: z.enum(['auto', 'hold', 'fail']),
  create_card_failure: sandboxFailure.optional(),
  topup_failure: sandboxFailure.optional(),
  topup_result: z.enum(['succeed', 'fail', 'verify_fail']),
});
export const sandboxSettledCard = z.strictObject({ order_id: z.string(), provider_card_status: z.enum(['active', 'failed']) });

export const errorBody = z.strictObject({
  slug: z.enum(Object.keys(SLUGS) as [string, ...string[]]),
  message: z.string(),
  request_id: z.string(),
  order_id: z.string().optional().describe('the stored order a 422 refused'),
  issues: z.array(z.strictObject({ path: z.string(), message: z.string() })).optional().describe('validation_error only'),
});

export const keyView = z.strictObject({
  kid: z.string(),
  alg: z.string(),
  status: z.enum(['active', 'retired']),
  thumbprint: z.string().describe('RFC 7638 SHA-256 thumbprint of the public key'),
  created_at: iso,
  retired_at: nullable(iso),
});

export const projectView = z.strictObject({
  project_id: z.string(),
  name: z.string(),
  status: z.enum(['active', 'disabled']),
  currency: z.string(),
  balance: decimal,
  signing_keys: z.array(keyView),
  encryption_keys: z.array(keyView),
  created_at: iso,
  updated_at: iso,
});

export const productView = z.strictObject({
  product_code: z.string(),
  product_id: z.number().int(),
  name: z.string(),
  active: z.boolean(),
  currency: z.string(),
  issue_fee: decimal,
  initial_balance_min: decimal,
  initial_balance_max: decimal,
  limits: z.strictObject({ per_transaction: decimal.optional(), daily: decimal.optional(), monthly: decimal.optional() }),
  created_at: iso,
  updated_at: iso,
});

export const cardholderView = z.strictObject({
  cardholder_id: z.string(),
  project_id: z.string(),
  external_user_id: z.string(),
  verification_status: z.enum(['pending', 'verified', 'rejected']),
  first_name: nullable(z.string()),
  last_name: nullable(z.string()),
  created_at: iso,
  updated_at: iso,
});

/** Order repair's fail and refund (src/order-repair/): the order and its refund entry. */
export const repairResult = z.strictObject({
  order: staffOrderView,
  refund: nullable(
    z.strictObject({ amount: decimal, ledger_seq: z.number().int(), balance_before: decimal, balance_after: decimal, created_at: iso }),
  ).describe('the refund entry of the order (made now or before); null when nothing is owed'),
});

export const orderPage = z.strictObject({ orders: z.array(staffOrderView), next_cursor: nullable(z.string()) });
export const slugCounts = z.strictObject({ total: z.number().int(), by_slug: z.array(z.strictObject({ slug: nullable(z.string()), count: z.number().int() })) });
export const slugList = z.array(z.strictObject({ slug: z.string(), status: z.number().int(), message: z.string() }));

const faultKind = z.enum(Object.keys(FAULT_KINDS) as [string, ...string[]]);
export const reconcileReport = z.strictObject({
  ok: z.boolean(),
  as_of: iso,
  stuck_after_s: z.number().int(),
  settle_s: z.number().int(),
  provider_checked: z.boolean(),
  totals: z.strictObject({ projects: z.number().int(), entries: z.number().int(), orders: z.number().int(), cards: z.number().int(), faults: z.number().int() }),
  fault_counts: z.partialRecord(faultKind, z.number().int()),
  faults: z.array(
    z.strictObject({
      kind: faultKind,
      project_id: z.string(),
      order_id: z.string().optional(),
      seq: z.number().int().optional(),
      card_id: z.string().optional(),
      detail: z.string(),
    }),
  ),
  faults_truncated: z.boolean(),
  projects: z.array(
    z.strictObject({
      project_id: z.string(),
      entries: z.number().int(),
      orders: z.number().int(),
      cards: z.number().int(),
      balance: z.number().int().describe('minor units'),
      currency: nullable(z.string()),
      faults: z.number().int(),
    }),
  ),
});

export const auditEntry = z.strictObject({
  _id: z.string(),
  staff: z.string(),
  via: z.enum(['admin_api', 'console', 'cli', 'system']),
  action: z.string(),
  target: z.string(),
  summary: z.record(z.string(), z.unknown()),
  result: z.record(z.string(), z.unknown()).optional(),
  request_id: z.string(),
  outcome: z.enum(['pending', 'applied', 'failed']),
  error_slug: z.string().optional(),
  created_at: iso,
  completed_at: iso.optional(),
});

/** Webhooks to partners, staff side (docs/back-office.md). */
export const webhookEndpointView = z.strictObject({
  project_id: z.string(),
  url: z.string(),
  status: z.enum(['active', 'disabled']),
  created_at: iso,
  updated_at: iso,
});

const webhookEventLogView = z.strictObject({
  event: z.strictObject({
    id: z.string(),
    type: z.string().describe('order.created, order.activating, order.processing, order.completed, order.failed, card.active, card.frozen, card.terminated'),
    project_id: z.string(),
    subject: z.strictObject({ type: z.string(), id: z.string() }),
    sequence: z.number().int().describe("an order's state's place (created 0, activating 1, processing 2, completed or failed 3); a card event's place in its card's chain (0, 1, 2, ...)"),
    created_at: iso,
    data: z.record(z.string(), z.unknown()),
  }),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  next_attempt_at: nullable(iso),
  retry_until: iso,
  delivered_at: nullable(iso),
  last_error: nullable(z.string()),
});

export const webhookEventPage = z.strictObject({ events: z.array(webhookEventLogView), next_cursor: nullable(z.string()) });

export const webhookEventDetail = webhookEventLogView.extend({
  delivery_attempts: z.array(
    z.strictObject({
      attempt: z.number().int(),
      url: z.string(),
      started_at: iso,
      duration_ms: z.number(),
      outcome: z.enum(['delivered', 'http_error', 'timeout', 'network_error', 'address_refused', 'no_key']),
      http_status: nullable(z.number().int()),
      error: nullable(z.string()),
    }),
  ),
});

export { webhookEventLogView };
