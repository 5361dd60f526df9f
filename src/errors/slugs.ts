/**
 * Every error slug the gateway can answer or record, with its HTTP status and the message a client
 * sees. One table: the error handler, the README's slug list and the tests all read it.
 * Security failures keep deliberately vague messages: they must not help an attacker.
 */
export const SLUGS = {
  // 400
  idempotency_key_required: { status: 400, message: 'The Idempotency-Key header is required.' },
  validation_error: { status: 400, message: 'The request body is not valid.' },
  malformed_request: { status: 400, message: 'The request could not be understood.' },
  external_user_id_required: { status: 400, message: 'external_user_id is required.' },
  // 401: the envelope could not be trusted
  invalid_encryption: { status: 401, message: 'The request could not be decrypted.' },
  unknown_key_id: { status: 401, message: 'The request names an unknown key.' },
  unsupported_algorithm: { status: 401, message: 'The request uses an algorithm that is not accepted.' },
  invalid_signature: { status: 401, message: 'The request signature is not valid.' },
  unknown_project: { status: 401, message: 'The request names an unknown project.' },
  request_expired: { status: 401, message: 'The request is outside the accepted time window.' },
  replay_detected: { status: 401, message: 'The request was already received.' },
  request_binding_mismatch: { status: 401, message: 'The request is not bound to this endpoint or key.' },
  unauthorized: { status: 401, message: 'A valid staff token is required.' },
  provider_webhook_rejected: { status: 401, message: 'The provider event could not be verified.' },
  // 403
  project_disabled: { status: 403, message: 'The project is disabled.' },
  csrf_token_invalid: { status: 403, message: 'The form is missing its CSRF token, or it does not match the session.' },
  // 404
  order_not_found: { status: 404, message: 'Order not found.' },
  card_not_found: { status: 404, message: 'Card not found.' },
  not_found: { status: 404, message: 'Not found.' },
  // 409
  idempotency_key_reused: { status: 409, message: 'The Idempotency-Key was already used with a different request.' },
  card_not_ready: { status: 409, message: 'The card is not issued yet.' },
  conflict: { status: 409, message: 'The resource already exists or changed meanwhile.' },
  // 413 / 415
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'The request body must be application/jose.' },
  // 422: business rules; the order is stored as failed
  product_not_found: { status: 422, message: 'Card product not found.' },
  product_not_active: { status: 422, message: 'Card product is not active.' },
  cardholder_not_found: { status: 422, message: 'Cardholder not found.' },
  cardholder_not_ready: { status: 422, message: 'Cardholder is not ready for issuance.' },
  invalid_pricing: { status: 422, message: 'Pricing rules are misconfigured.' },
  card_product_limits_invalid: { status: 422, message: 'Card product limits are invalid.' },
  amount_below_minimum: { status: 422, message: 'The initial balance is below the product minimum.' },
  amount_above_maximum: { status: 422, message: 'The initial balance is above the product maximum.' },
  insufficient_funds: { status: 422, message: 'Master balance is too low for this order.' },
  webhook_url_refused: { status: 422, message: 'The webhook URL is not allowed.' },
  cardholder_rejected: { status: 422, message: 'The cardholder was rejected by verification; no card can be issued.' },
  // 429
  rate_limited: { status: 429, message: 'Too many requests; retry later.' },
  // 500 / 503
  internal_error: { status: 500, message: 'An internal error occurred.' },
  service_unavailable: { status: 503, message: 'The service is temporarily unavailable.' },
  // Recorded on failed orders by the issuance workflow (never an HTTP status of their own)
  provider_declined: { status: 502, message: 'The card provider declined the request.' },
  provider_unavailable: { status: 502, message: 'The card provider was unavailable.' },
  provider_timeout: { status: 504, message: 'The card provider did not answer in time.' },
  // Staff repair of stuck orders (src/order-repair/, docs/back-office.md)
  failed_by_staff: { status: 422, message: 'The order was failed by support staff.' },
  order_not_retryable: { status: 409, message: 'The order is finished; there is nothing to retry.' },
  order_not_failable: { status: 409, message: 'The order cannot be failed by hand in its present state.' },
  already_refunded: { status: 409, message: 'The order was refunded already.' },
  refund_not_owed: { status: 409, message: 'Nothing is owed back for this order.' },
  // Card operations (src/card-ops/): refused at the request, stored as failed orders like cards/create's
  card_frozen: { status: 409, message: 'The card is frozen.' },
  card_terminated: { status: 409, message: 'The card is terminated.' },
  card_already_frozen: { status: 409, message: 'The card is frozen already.' },
  card_not_frozen: { status: 409, message: 'The card is not frozen.' },
  currency_mismatch: { status: 422, message: 'The currency is not the card currency.' },
  card_balance_insufficient: { status: 422, message: 'The card balance is lower than the amount.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type Slug = keyof typeof SLUGS;

export function isSlug(value: string): value is Slug {
  return Object.hasOwn(SLUGS, value);
}
