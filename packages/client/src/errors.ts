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

/** Why `openEvent` refused a webhook request. */
export type WebhookEventRefusal =
  /** Not decryptable with our keys, or not signed by a key of the gateway's JWKS. */
  | 'unopenable'
  /** Genuine, but not a webhook event (another kind of message, or not the event's shape). */
  | 'not_an_event'
  /** Sealed by another gateway (its `iss` is not our audience). */
  | 'wrong_gateway'
  /** Meant for another project (`aud`, or the event's `project_id`). */
  | 'other_project'
  /** Sealed longer ago (or further ahead) than the accepted window: a replay, or a clock far off. */
  | 'stale'
  /** The `Webhook-Id` or `Webhook-Type` header is missing or differs from the sealed event. */
  | 'header_mismatch';

/**
 * A webhook request that is not a genuine, current event for this project. Answer it with a 4xx
 * (or 2xx and ignore it) and do not act on it; `reason` says which check refused it.
 */
export class WebhookEventError extends Error {
  override name = 'WebhookEventError';

  constructor(
    readonly reason: WebhookEventRefusal,
    message: string,
  ) {
    super(message);
  }
}

/** waitForOrder / waitForCardholder gave up: nothing failed, the gateway is still working on it. */
export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
}
