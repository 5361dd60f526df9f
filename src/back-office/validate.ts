import type { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.js';

/**
 * Checks back-office input (from the admin API or a script's flags) against a schema. Problems
 * become one `validation_error` naming each path; input values are never echoed.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new GatewayError('validation_error', undefined, {
    issues: result.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message })),
  });
}

export function notFound(what: string): GatewayError {
  return new GatewayError('not_found', `${what} not found.`);
}
