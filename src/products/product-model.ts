import { Schema, type Connection, type Model } from 'mongoose';

/** A card product (programme): what a card costs and which initial balances it allows. */
export interface Product {
  _id: string;
  /** The partner-facing code, e.g. "VIRTUAL_USD". */
  product_code: string;
  /** Legacy numeric id some partners still send instead of product_code. */
  product_id: number;
  name: string;
  active: boolean;
  currency: string;
  /** All amounts in minor units of `currency`. */
  issue_fee: number;
  initial_balance_min: number;
  initial_balance_max: number;
  /** Spending limits passed to the provider when the card is created. */
  limits: { per_transaction?: number; daily?: number; monthly?: number };
  created_at: Date;
  updated_at: Date;
}

const productSchema = new Schema<Product>(
  {
    _id: { type: String, required: true },
    product_code: { type: String, required: true },
    product_id: { type: Number, required: true },
    name: { type: String, required: true },
    active: { type: Boolean, required: true, default: true },
    currency: { type: String, required: true },
    // Not validated as non-negative here on purpose: a misconfigured product must still be
    // storable so that orders against it fail with invalid_pricing, as the contract says.
    issue_fee: { type: Number, required: true },
    initial_balance_min: { type: Number, required: true },
    initial_balance_max: { type: Number, required: true },
    limits: { type: { per_transaction: Number, daily: Number, monthly: Number }, default: {}, _id: false },
  },
  { timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' }, versionKey: false },
);
productSchema.index({ product_code: 1 }, { unique: true });
productSchema.index({ product_id: 1 }, { unique: true });

export function productModel(connection: Connection): Model<Product> {
  return (connection.models.Product as Model<Product> | undefined) ?? connection.model<Product>('Product', productSchema, 'products');
}
