import { z } from 'zod';
import type { Cardholder } from '../cardholders/cardholder-model.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { Slug } from '../errors/slugs.js';
import { currencyExponent, MoneyFormatError, parseDecimal } from '../money/money.js';
import type { Product } from '../products/product-model.js';
import type { Project } from '../projects/project-model.js';

/**
 * The body of POST /api/v1/cards/create (contract section 3). Shape only: the business rules are
 * checked afterwards, in the contract's order, by `checkIssuanceRules`.
 */
export const createCardBody = z
  .strictObject({
    product_code: z.string().min(1).max(64).optional(),
    product_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
    // Missing or blank is its own slug (external_user_id_required), checked after the shape.
    external_user_id: z.string().max(128).nullable().optional(),
    initial_balance: z
      .string()
      .regex(/^\d{1,15}(\.\d{1,6})?$/, 'must be a non-negative decimal string such as "10.50"')
      .optional(),
    label: z.string().max(64).optional(),
    external_id: z.string().min(1).max(128).optional(),
  })
  .refine((b) => (b.product_code === undefined) !== (b.product_id === undefined), {
    message: 'give exactly one of product_code or product_id',
    path: ['product_code'],
  });

export type CreateCardBody = z.infer<typeof createCardBody>;

export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** Turns a zod failure into validation_error with paths and messages, never the input values. */
export function validationError(error: z.ZodError): GatewayError {
  return new GatewayError('validation_error', undefined, {
    issues: error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message })),
  });
}

export interface Amounts {
  currency: string;
  issue_fee: number;
  initial_balance: number;
  total_charge: number;
}

export type RuleCheck =
  | { ok: true; product: Product; amounts: Amounts }
  | { ok: false; slug: Slug; product?: Product; amounts?: Partial<Amounts> };

export interface RuleInputs {
  project: Project;
  body: CreateCardBody & { external_user_id: string };
  product: Product | null;
  cardholder: Cardholder | null;
}

/**
 * The business rules of card issuance, in the contract's order (the first failure wins). Funds
 * are checked later, by the charge itself: only the ledger knows the balance without a race.
 */
export function checkIssuanceRules({ project, body, product, cardholder }: RuleInputs): RuleCheck {
  if (!product) return { ok: false, slug: 'product_not_found' };
  if (!product.active) return { ok: false, slug: 'product_not_active', product };
  if (!cardholder) return { ok: false, slug: 'cardholder_not_found', product };
  if (cardholder.verification_status === 'rejected') return { ok: false, slug: 'cardholder_rejected', product };
  if (cardholder.verification_status !== 'verified') return { ok: false, slug: 'cardholder_not_ready', product };

  let exponent: number;
  try {
    exponent = currencyExponent(product.currency);
  } catch {
    return { ok: false, slug: 'invalid_pricing', product };
  }
  // A product charged to a balance in another currency would mix units in one ledger.
  if (product.currency !== project.currency) return { ok: false, slug: 'invalid_pricing', product };
  if (!isMinor(product.issue_fee) || product.issue_fee < 0) return { ok: false, slug: 'invalid_pricing', product };
  const { initial_balance_min: min, initial_balance_max: max } = product;
  if (!isMinor(min) || !isMinor(max) || min < 0 || min > max) return { ok: false, slug: 'card_product_limits_invalid', product };
  for (const limit of Object.values(product.limits ?? {})) {
    if (limit !== undefined && limit !== null && (!isMinor(limit) || limit < 0)) {
      return { ok: false, slug: 'card_product_limits_invalid', product };
    }
  }

  let initial: number;
  try {
    // Absent means no initial balance (the top-up step is skipped).
    initial = body.initial_balance === undefined ? 0 : parseDecimal(body.initial_balance, exponent);
  } catch (err) {
    if (!(err instanceof MoneyFormatError)) throw err;
    throw new GatewayError('validation_error', undefined, {
      issues: [{ path: 'initial_balance', message: `${err.message} (${product.currency})` }],
    });
  }
  const partial = { currency: product.currency, issue_fee: product.issue_fee, initial_balance: initial };
  if (initial < min) return { ok: false, slug: 'amount_below_minimum', product, amounts: partial };
  if (initial > max) return { ok: false, slug: 'amount_above_maximum', product, amounts: partial };
  const total = product.issue_fee + initial;
  if (!Number.isSafeInteger(total)) return { ok: false, slug: 'invalid_pricing', product };
  return { ok: true, product, amounts: { ...partial, total_charge: total } };
}

function isMinor(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}
