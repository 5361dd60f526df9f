import { SLUGS, type Slug } from './slugs.js';

/** Extra fields a client may see beside slug and message (contract section 4). */
export interface ErrorDetails {
  order_id?: string;
  /** Field-level problems of a validation_error; never echoes input values. */
  issues?: { path: string; message: string }[];
}

/**
 * The one error type the HTTP layer turns into a contract error body. Anything else that reaches
 * the error handler is an internal error and is answered as `internal_error` with no detail.
 */
export class GatewayError extends Error {
  readonly status: number;

  constructor(
    readonly slug: Slug,
    message?: string,
    readonly details: ErrorDetails = {},
    /** Response headers that belong with this error (e.g. Idempotent-Replayed on a replayed 422). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message ?? SLUGS[slug].message);
    this.name = 'GatewayError';
    this.status = SLUGS[slug].status;
  }
}
