import type { Connection, Model } from 'mongoose';
import { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.js';
import { newId } from '../ids/ids.js';
import { currencyExponent, formatMinor, MoneyFormatError, parseDecimal, SUPPORTED_CURRENCIES } from '../money/money.js';
import { productModel, type Product } from '../products/product-model.js';
import { isDuplicateKeyError } from '../store/duplicate-key.js';
import { announceStaffChange } from '../store/change-notices.js';
import type { Actor, AuditLog } from './audit-log.js';
import { notFound, parseInput } from './validate.js';

export interface ProductView {
  product_code: string;
  product_id: number;
  name: string;
  active: boolean;
  currency: string;
  issue_fee: string;
  initial_balance_min: string;
  initial_balance_max: string;
  limits: { per_transaction?: string; daily?: string; monthly?: string };
  created_at: string;
  updated_at: string;
}

const money = z.string().max(20);
const limitsSchema = z.object({ per_transaction: money.optional(), daily: money.optional(), monthly: money.optional() }).strict();

export const createSchema = z
  .object({
    product_code: z.string().regex(/^[A-Z0-9_]{2,64}$/, 'upper-case letters, digits and _ only'),
    product_id: z.number().int().min(1).max(2_147_483_647),
    name: z.string().trim().min(1).max(200),
    currency: z.enum(SUPPORTED_CURRENCIES as [string, ...string[]]),
    issue_fee: money,
    initial_balance_min: money,
    initial_balance_max: money,
    limits: limitsSchema.default({}),
    active: z.boolean().default(true),
  })
  .strict();

// The currency and both ids are what orders and partners refer to: they never change.
export const updateSchema = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    issue_fee: money.optional(),
    initial_balance_min: money.optional(),
    initial_balance_max: money.optional(),
    limits: limitsSchema.optional(),
    active: z.boolean().optional(),
  })
  .strict()
  .refine((u) => Object.keys(u).length > 0, 'nothing to change');

type MoneyField = 'issue_fee' | 'initial_balance_min' | 'initial_balance_max';

/**
 * Card products as staff manage them. Unlike the model (which must be able to hold a broken
 * product, so orders against it fail with invalid_pricing), staff can only save a consistent one:
 * non-negative fee, min <= max.
 */
export class ProductsAdmin {
  private readonly products: Model<Product>;

  constructor(
    private readonly connection: Connection,
    private readonly audit: AuditLog,
  ) {
    this.products = productModel(connection);
  }

  async list(): Promise<ProductView[]> {
    return (await this.products.find().sort({ product_code: 1 }).lean<Product[]>()).map(productView);
  }

  async get(code: string): Promise<ProductView> {
    return productView(await this.load(code));
  }

  async create(actor: Actor, input: unknown): Promise<ProductView> {
    const body = parseInput(createSchema, input);
    const exponent = currencyExponent(body.currency);
    const amounts = {
      issue_fee: minor('issue_fee', body.issue_fee, exponent),
      initial_balance_min: minor('initial_balance_min', body.initial_balance_min, exponent),
      initial_balance_max: minor('initial_balance_max', body.initial_balance_max, exponent),
    };
    checkRange(amounts.initial_balance_min, amounts.initial_balance_max);
    const limits = minorLimits(body.limits, exponent);
    return this.audit.run(
      actor,
      { action: 'product.create', target: `product:${body.product_code}`, summary: { ...body } },
      async () => {
        const now = new Date();
        try {
          await this.products.collection.insertOne({
            _id: newId('prod'),
            product_code: body.product_code,
            product_id: body.product_id,
            name: body.name,
            active: body.active,
            currency: body.currency,
            ...amounts,
            limits,
            created_at: now,
            updated_at: now,
          } satisfies Product as never);
        } catch (err) {
          if (isDuplicateKeyError(err)) throw new GatewayError('conflict', 'A product with this product_code or product_id exists.');
          throw err;
        }
        return this.get(body.product_code);
      },
    );
  }

  async update(actor: Actor, code: string, input: unknown): Promise<ProductView> {
    const body = parseInput(updateSchema, input);
    const current = await this.load(code);
    const exponent = currencyExponent(current.currency);
    const set: Partial<Product> = {};
    if (body.name !== undefined) set.name = body.name;
    if (body.active !== undefined) set.active = body.active;
    for (const field of ['issue_fee', 'initial_balance_min', 'initial_balance_max'] as MoneyField[]) {
      const value = body[field];
      if (value !== undefined) set[field] = minor(field, value, exponent);
    }
    if (body.limits !== undefined) set.limits = minorLimits(body.limits, exponent);
    checkRange(set.initial_balance_min ?? current.initial_balance_min, set.initial_balance_max ?? current.initial_balance_max);
    const action = Object.keys(body).length === 1 && body.active !== undefined ? (body.active ? 'product.activate' : 'product.deactivate') : 'product.update';
    return this.audit.run(actor, { action, target: `product:${code}`, summary: { ...body } }, async () => {
      await this.products.updateOne({ _id: current._id }, { $set: { ...set, updated_at: new Date() } });
      announceStaffChange(this.connection, 'product', current._id);
      return this.get(code);
    });
  }

  private async load(code: string): Promise<Product> {
    const product = await this.products.findOne({ product_code: code }).lean<Product>();
    if (!product) throw notFound('Product');
    return product;
  }
}

function minor(field: string, value: string, exponent: number): number {
  try {
    return parseDecimal(value, exponent);
  } catch (err) {
    if (!(err instanceof MoneyFormatError)) throw err;
    throw new GatewayError('validation_error', undefined, { issues: [{ path: field, message: err.message }] });
  }
}

function minorLimits(limits: z.infer<typeof limitsSchema>, exponent: number): Product['limits'] {
  const out: Product['limits'] = {};
  for (const key of ['per_transaction', 'daily', 'monthly'] as const) {
    const value = limits[key];
    if (value !== undefined) out[key] = minor(`limits.${key}`, value, exponent);
  }
  return out;
}

function checkRange(min: number, max: number): void {
  if (min > max) {
    throw new GatewayError('validation_error', undefined, {
      issues: [{ path: 'initial_balance_max', message: 'must not be below initial_balance_min' }],
    });
  }
}

export function productView(p: Product): ProductView {
  const exponent = currencyExponent(p.currency);
  const limits: ProductView['limits'] = {};
  for (const key of ['per_transaction', 'daily', 'monthly'] as const) {
    const value = p.limits?.[key];
    if (value !== undefined && value !== null) limits[key] = formatMinor(value, exponent);
  }
  return {
    product_code: p.product_code,
    product_id: p.product_id,
    name: p.name,
    active: p.active,
    currency: p.currency,
    issue_fee: formatMinor(p.issue_fee, exponent),
    initial_balance_min: formatMinor(p.initial_balance_min, exponent),
    initial_balance_max: formatMinor(p.initial_balance_max, exponent),
    limits,
    created_at: p.created_at.toISOString(),
    updated_at: p.updated_at.toISOString(),
  };
}
