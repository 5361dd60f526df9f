import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { rateLimit, type RateLimitInfo } from 'express-rate-limit';
import { GatewayError } from '../errors/gateway-error.js';
import type { Logger } from '../logging/logger.js';

declare module 'express-serve-static-core' {
  interface Locals {
    /** The staff member whose token authenticated this admin request. */
    staff?: string;
  }
}

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;

/**
 * Staff authentication for the admin API: `Authorization: Bearer <token>`, one token per staff
 * member (ADMIN_TOKENS, name:token). Tokens are compared as SHA-256 digests with timingSafeEqual:
 * equal-length inputs, so neither a token's content nor its length leaks through timing, and every
 * configured token is compared on every request so the position of a match does not leak either.
 * With no tokens configured, nobody gets in.
 */
export function staffAuth(tokens: ReadonlyMap<string, string> | undefined, logger?: Logger): RequestHandler {
  const match = staffMatcher(tokens);
  return (req, res, next) => {
    const bearer = BEARER.exec(req.get('authorization') ?? '');
    const found = bearer ? match(bearer[1]!) : undefined;
    if (found === undefined) {
      // Counted per address by staffAuthThrottle; the log line carries no part of the token.
      logger?.warn('staff authentication failed', { request_id: res.locals.requestId, address: req.ip, failures_in_window: (req as { rateLimit?: RateLimitInfo }).rateLimit?.used });
      res.setHeader('WWW-Authenticate', 'Bearer realm="admin"');
      next(new GatewayError('unauthorized'));
      return;
    }
    res.locals.staff = found;
    next();
  };
}

/** The staff member a presented token belongs to, compared as described above; the console signs in with it too. */
export function staffMatcher(tokens: ReadonlyMap<string, string> | undefined): (presented: string) => string | undefined {
  const staff = [...(tokens ?? new Map<string, string>())].map(([name, token]) => ({ name, digest: digest(token) }));
  return (token) => {
    const presented = digest(token);
    let found: string | undefined;
    for (const member of staff) {
      if (timingSafeEqual(presented, member.digest) && found === undefined) found = member.name;
    }
    return found;
  };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export interface StaffAuthThrottle {
  maxFailures: number;
  windowMs: number;
}

/**
 * Failed staff authentications per client address: past `maxFailures` in the window, every admin
 * request from that address is 429 `rate_limited` with Retry-After, before any token is compared
 * (so a locked-out guesser learns nothing). Successful requests do not count. In memory, per
 * instance: the budget an attacker gets is maxFailures times the number of instances.
 */
export function staffAuthThrottle(options: StaffAuthThrottle, logger: Logger): RequestHandler {
  return rateLimit({
    windowMs: options.windowMs,
    limit: options.maxFailures,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.locals.staff !== undefined,
    handler: (req, res, next) => {
      logger.warn('staff authentication throttled', { request_id: res.locals.requestId, address: req.ip });
      next(new GatewayError('rate_limited'));
    },
  });
}
