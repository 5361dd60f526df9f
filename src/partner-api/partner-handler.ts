import type { Project } from '../projects/project-model.js';

/**
 * The seam between the secure channel and the business logic. The secure channel decrypts,
 * verifies and checks the request, then calls a PartnerHandler with what it established; the
 * handler never sees HTTP or JOSE. Its reply (or a thrown GatewayError) is signed and encrypted to
 * the project by the channel.
 */
export interface AuthenticatedRequest {
  project: Project;
  /** The `body` claim of the verified token: the endpoint's request object, not yet validated. */
  body: unknown;
  /** The Idempotency-Key header, already checked equal to the token's `idk` claim. */
  idempotencyKey?: string;
  requestId: string;
}

export interface PartnerReply {
  status: number;
  data: unknown;
  headers?: Record<string, string>;
}

export type PartnerHandler = (request: AuthenticatedRequest) => Promise<PartnerReply>;

/** The three partner endpoints (contract section 3). */
export interface PartnerHandlers {
  createCard: PartnerHandler;
  checkOrder: PartnerHandler;
  getCard: PartnerHandler;
}
