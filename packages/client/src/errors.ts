/**
 * An error answer of the gateway, with the contract's slug. `sealed` tells whether it came inside
 * the signed and encrypted envelope (after authentication) or as plain JSON (before it: such an
 * answer is not signed, so treat it as advice, never as proof that nothing happened).
 */
export class GatewayApiError extends Error {
  override name = 'GatewayApiError';

  constructor(
    readonly slug: string,
    readonly status: number,
    message: string,
    readonly request_id: string | undefined,
    readonly order_id: string | undefined,
    readonly sealed: boolean,
    readonly issues?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

/**
 * The gateway's answer could not be trusted or understood: not decryptable with our key, not
 * signed by a key in the gateway's JWKS, unsealed where it must be sealed, or not the contract's
 * shape. The request may or may not have taken effect; check the order before retrying.
 */
export class GatewayResponseError extends Error {
  override name = 'GatewayResponseError';

  constructor(
    message: string,
    readonly status: number | undefined,
    readonly request_id: string | undefined,
  ) {
    super(message);
  }
}

/**
 * A webhook request that is not a genuine event for this project: not decryptable with our key,
 * not signed by the gateway, not an event, or addressed to another project. Answer it with a 4xx
 * (or 2xx and ignore it) and do not act on it.
 */
export class WebhookEventError extends Error {
  override name = 'WebhookEventError';
}
