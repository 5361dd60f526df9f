import express, { type RequestHandler } from 'express';
import type { Config } from '../config/config.js';
import { GatewayError } from '../errors/gateway-error.js';
import { sendData } from '../http/respond.js';
import type { Logger } from '../logging/logger.js';
import type { AuthenticatedRequest, PartnerHandler } from '../partner-api/partner-handler.js';
import { AuthenticationError, type Authenticator } from './authenticator.js';
import type { RateLimiters } from './rate-limit.js';
import { JOSE_MEDIA_TYPE, requestHash, sealingResponder } from './responder.js';
import type { GatewayKeys } from './gateway-keys.js';
import type { WorkLimit } from './work-limit.js';

declare module 'express-serve-static-core' {
  interface Locals {
    /** Set once the secure channel has authenticated the request. */
    partner?: AuthenticatedRequest;
  }
}

/** One partner endpoint behind the envelope. */
export interface PartnerRoute {
  /** The canonical path; the token's `htu` must name it. */
  path: string;
  /** The endpoint takes an Idempotency-Key header and refuses to run without one. */
  requireIdempotencyKey: boolean;
  handler: PartnerHandler;
}

export interface EnvelopeDeps {
  config: Config;
  logger: Logger;
  keys: GatewayKeys;
  authenticator: Authenticator;
  limiters: RateLimiters;
  /** Caps the decryptions and signature checks done before a sender is known. */
  preAuth: WorkLimit;
  now: () => number;
}

const requireJoseMediaType: RequestHandler = (req, _res, next) => {
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  next(mediaType === JOSE_MEDIA_TYPE ? undefined : new GatewayError('unsupported_media_type'));
};

const requireIdempotencyKey: RequestHandler = (_req, res, next) => {
  next(res.locals.partner?.idempotencyKey ? undefined : new GatewayError('idempotency_key_required'));
};

function invoke(handler: PartnerHandler): RequestHandler {
  return async (_req, res) => {
    const partner = res.locals.partner;
    if (!partner) throw new Error('partner handler reached without authentication');
    const reply = await handler(partner);
    await sendData(res, reply.status, reply.data, reply.headers ?? {});
  };
}

/**
 * The middleware chain of every partner route, in the order of the issue: media type and size
 * limit, per-address budget (before the expensive decryption), authentication, per-project budget,
 * then the handler. Until the signature is verified every answer is plain JSON and echoes nothing;
 * from then on the sealing responder answers everything, errors included.
 */
export function envelope(deps: EnvelopeDeps): (route: PartnerRoute) => RequestHandler[] {
  const { config, logger, keys, authenticator, limiters, preAuth, now } = deps;
  const rawBody = express.raw({ type: () => true, limit: config.REQUEST_BODY_LIMIT_BYTES, inflate: false });

  const rejected = (res: Parameters<RequestHandler>[1], err: AuthenticationError) => {
    logger.info('partner request rejected', {
      request_id: res.locals.requestId,
      slug: err.slug,
      reason: err.detail,
      project_id: res.locals.projectId,
    });
  };

  const authenticate = (route: PartnerRoute): RequestHandler => async (req, res, next) => {
    const body: unknown = req.body;
    if (!Buffer.isBuffer(body) || body.length === 0) throw new AuthenticationError('invalid_encryption', 'empty body');
    const token = body.toString('latin1').trim();
    const idempotencyKey = req.get('idempotency-key');

    let identified;
    try {
      authenticator.precheck(token);
      identified = await preAuth.run(() => authenticator.identify(token));
    } catch (err) {
      if (err instanceof AuthenticationError) rejected(res, err);
      throw err;
    }
    res.locals.projectId = identified.project._id;
    const claim = (name: string) => (typeof identified.claims[name] === 'string' ? (identified.claims[name]) : null);
    res.locals.responder = sealingResponder(keys.signingKey, identified.recipient, {
      gateway: config.GATEWAY_AUDIENCE,
      projectId: identified.project._id,
      requestJti: claim('jti'),
      requestHtu: claim('htu'),
      requestHash: requestHash(body),
    }, now);

    try {
      const checked = await authenticator.checkClaims(identified, { method: req.method, path: route.path, idempotencyKey });
      res.locals.partner = {
        project: identified.project,
        body: checked.body,
        idempotencyKey: checked.idempotencyKey,
        requestId: res.locals.requestId,
      };
    } catch (err) {
      if (err instanceof AuthenticationError) rejected(res, err);
      throw err;
    }
    next();
  };

  return (route) => [
    requireJoseMediaType,
    rawBody,
    limiters.perAddress,
    authenticate(route),
    limiters.perProject,
    ...(route.requireIdempotencyKey ? [requireIdempotencyKey] : []),
    invoke(route.handler),
  ];
}
