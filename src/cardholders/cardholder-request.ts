import { z } from 'zod';
import type { BillingAddress, Cardholder, VerificationStatus } from './cardholder-model.js';
import { isCountryCode } from './countries.js';

const text = (max: number) => z.string().trim().min(1).max(max);

/**
 * The body of POST /api/v1/cardholders/create (docs/orders.md, "Cardholders"). Shape only; a
 * missing or blank external_user_id is its own slug (external_user_id_required), as in cards/create.
 */
export const createCardholderBody = z.strictObject({
  external_user_id: z.string().max(128).nullable().optional(),
  name: z.strictObject({ first: text(100), last: text(100) }),
  billing_address: z.strictObject({
    line1: text(200),
    line2: text(200).optional(),
    city: text(100),
    postal_code: text(20),
    country: z.string().refine(isCountryCode, 'must be an ISO 3166-1 alpha-2 code in capitals, such as "GB"'),
    state: text(100).optional(),
  }),
  contact: z.strictObject({
    email: z.email().max(254),
    phone: z
      .string()
      .regex(/^\+[1-9]\d{6,14}$/, 'must be E.164, such as "+447700900123"')
      .optional(),
  }),
});

export type CreateCardholderBody = z.infer<typeof createCardholderBody>;

export const getCardholderBody = z.strictObject({ external_user_id: z.string().max(128).nullable().optional() });

/** A cardholder as the partner sees it. Staff-created cardholders have no address or contact (null). */
export interface PartnerCardholderView {
  cardholder_id: string;
  external_user_id: string;
  status: VerificationStatus;
  name: { first: string | null; last: string | null };
  billing_address: { line1: string; line2: string | null; city: string; postal_code: string; country: string; state: string | null } | null;
  contact: { email: string; phone: string | null } | null;
  created_at: string;
  updated_at: string;
  verified_at: string | null;
  rejected_at: string | null;
}

export function partnerCardholderView(c: Cardholder): PartnerCardholderView {
  return {
    cardholder_id: c._id,
    external_user_id: c.external_user_id,
    status: c.verification_status,
    name: { first: c.first_name ?? null, last: c.last_name ?? null },
    billing_address: c.billing_address ? addressView(c.billing_address) : null,
    contact: c.email ? { email: c.email, phone: c.phone ?? null } : null,
    created_at: c.created_at.toISOString(),
    updated_at: c.updated_at.toISOString(),
    verified_at: c.verified_at?.toISOString() ?? null,
    rejected_at: c.rejected_at?.toISOString() ?? null,
  };
}

function addressView(a: BillingAddress): NonNullable<PartnerCardholderView['billing_address']> {
  return { line1: a.line1, line2: a.line2 ?? null, city: a.city, postal_code: a.postal_code, country: a.country, state: a.state ?? null };
}
