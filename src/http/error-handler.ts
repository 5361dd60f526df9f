import type { ErrorRequestHandler, RequestHandler } from 'express';
import mongoose from 'mongoose';
import { GatewayError } from '../errors/gateway-error.js';
import type { Slug } from '../errors/slugs.js';
import type { Logger } from '../logging/logger.js';
import { plainJsonResponder, errorBody, sendError } from './respond.js';

/** The JSON 404 for any path no route claims. */
export const notFound: RequestHandler = (_req, _res, next) => {
  next(new GatewayError('not_found'));
};

// express.json()/raw() errors carry a `type`; these are the client's fault, never ours.
const BODY_PARSER_SLUGS: Record<string, Slug> = {
  'entity.too.large': 'payload_too_large',
  'entity.parse.failed': 'validation_error',
  'entity.verify.failed': 'validation_error',
  'request.aborted': 'validation_error',
  'request.size.invalid': 'validation_error',
  'encoding.unsupported': 'unsupported_media_type',
  'charset.unsupported': 'unsupported_media_type',
};

// Other client errors raised by Express itself (a bad percent-escape in a path is a URIError with
// status 400): the status says whose fault it is; the slug never carries the input.
const CLIENT_ERROR_SLUGS: Record<number, Slug> = {
  400: 'malformed_request',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

function clientErrorSlug(err: unknown): Slug | undefined {
  const status = (err as { status?: unknown; statusCode?: unknown } | null)?.status ?? (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  return CLIENT_ERROR_SLUGS[status] ?? 'malformed_request';
}

/** The store is down, hung past its timeouts, or being restarted: the client may retry (503). */
function isStoreDown(err: unknown): boolean {
  return (
    err instanceof mongoose.mongo.MongoServerSelectionError ||
    err instanceof mongoose.mongo.MongoNetworkError ||
    err instanceof mongoose.mongo.MongoNotConnectedError ||
    err instanceof mongoose.mongo.MongoOperationTimeoutError ||
    err instanceof mongoose.mongo.MongoTopologyClosedError ||
    err instanceof mongoose.Error.MongooseServerSelectionError
  );
}

/**
 * The one place errors become responses. A GatewayError answers with its slug; a store outage is
 * 503; anything else is logged with the request id and answered `internal_error` with no detail.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    const bodyParserType = (err as { type?: unknown } | null)?.type;
    const clientSlug = clientErrorSlug(err);
    let slug: Slug;
    let gatewayError: GatewayError | undefined;
    if (err instanceof GatewayError) {
      gatewayError = err;
      slug = err.slug;
    } else if (typeof bodyParserType === 'string' && BODY_PARSER_SLUGS[bodyParserType]) {
      slug = BODY_PARSER_SLUGS[bodyParserType];
    } else if (clientSlug) {
      slug = clientSlug;
    } else if (isStoreDown(err)) {
      slug = 'service_unavailable';
      logger.error('store unavailable', { request_id: res.locals.requestId, error: err });
    } else {
      slug = 'internal_error';
      logger.error('unhandled error', { request_id: res.locals.requestId, error: err });
    }

    if (res.headersSent) return;
    for (const [name, value] of Object.entries(gatewayError?.headers ?? {})) res.setHeader(name, value);
    const send = async () => {
      if (gatewayError) await sendError(res, slug, gatewayError.message, gatewayError.details);
      else await sendError(res, slug);
    };
    send().catch((sendErr: unknown) => {
      // The sealing responder itself failed: answer plainly rather than not at all.
      logger.error('error response could not be sent', { request_id: res.locals.requestId, error: sendErr });
      if (!res.headersSent) void plainJsonResponder(res, 500, { error: errorBody(res, 'internal_error') });
    });
  };
}
