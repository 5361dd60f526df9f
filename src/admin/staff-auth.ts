import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { GatewayError } from '../errors/gateway-error.js';

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
export function staffAuth(tokens: ReadonlyMap<string, string> | undefined): RequestHandler {
  const match = staffMatcher(tokens);
  return (req, res, next) => {
    const bearer = BEARER.exec(req.get('authorization') ?? '');
    const found = bearer ? match(bearer[1]!) : undefined;
    if (found === undefined) {
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
