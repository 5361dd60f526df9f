import type { Response } from 'express';
import { SLUGS, type Slug } from '../errors/slugs.js';
import type { ErrorDetails } from '../errors/gateway-error.js';

export interface ErrorBody extends ErrorDetails {
  slug: Slug;
  message: string;
  request_id: string;
}

export type ResponsePayload = { data: unknown } | { error: ErrorBody };

/**
 * How a response leaves the gateway. Plain JSON by default; once a partner is authenticated the
 * secure channel installs a responder that signs and encrypts to that partner (contract 2).
 */
export type Responder = (res: Response, status: number, payload: ResponsePayload) => Promise<void> | void;

export const plainJsonResponder: Responder = (res, status, payload) => {
  res.status(status).json(payload);
};

declare module 'express-serve-static-core' {
  interface Locals {
    requestId: string;
    responder?: Responder;
    projectId?: string;
  }
}

/** Seconds a client should wait after a 503: about the store's restart and reconnection time. */
export const RETRY_AFTER_S = '2';

export function errorBody(res: Response, slug: Slug, message?: string, details: ErrorDetails = {}): ErrorBody {
  res.locals.errorSlug = slug;
  return { slug, message: message ?? SLUGS[slug].message, request_id: res.locals.requestId, ...details };
}

/** Sends `{data}` through the request's responder. */
export async function sendData(res: Response, status: number, data: unknown, headers: Record<string, string> = {}): Promise<void> {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  await (res.locals.responder ?? plainJsonResponder)(res, status, { data });
}

/** Sends a contract error body through the request's responder. */
export async function sendError(res: Response, slug: Slug, message?: string, details: ErrorDetails = {}): Promise<void> {
  // Every 503 is temporary (store down or restarting, a busy order): say when to come back.
  if (SLUGS[slug].status === 503 && !res.hasHeader('Retry-After')) res.setHeader('Retry-After', RETRY_AFTER_S);
  await (res.locals.responder ?? plainJsonResponder)(res, SLUGS[slug].status, { error: errorBody(res, slug, message, details) });
}
