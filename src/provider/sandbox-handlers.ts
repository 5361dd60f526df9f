import { z } from 'zod';
import { validationError } from '../orders/create-card-request.js';
import type { PartnerHandler } from '../partner-api/partner-handler.js';
import { sandboxCardRequest, sandboxRuleRequest, type SandboxSimulator } from './sandbox-simulator.js';

export const clearRuleRequest = z.strictObject({ external_user_id: z.string().min(1).max(128) });

/** The sandbox's partner endpoints (mounted when SANDBOX_SIMULATOR_ENABLED). */
export const SANDBOX_PATHS = {
  setRule: '/api/v1/sandbox/rules/set',
  clearRule: '/api/v1/sandbox/rules/clear',
  issueCard: '/api/v1/sandbox/cards/issue',
  failCard: '/api/v1/sandbox/cards/fail',
} as const;

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}

/**
 * The sandbox simulator as partner endpoints (path -> handler), mounted behind the same secure
 * channel as the partner API when SANDBOX_SIMULATOR_ENABLED. Everything acts on the caller's project.
 */
export function createSandboxHandlers(simulator: SandboxSimulator): Record<string, PartnerHandler> {
  return {
    [SANDBOX_PATHS.setRule]: async ({ project, body }) => ({
      status: 200,
      data: await simulator.setRule(project._id, parse(sandboxRuleRequest, body)),
    }),
    [SANDBOX_PATHS.clearRule]: async ({ project, body }) => ({
      status: 200,
      data: await simulator.clearRule(project._id, parse(clearRuleRequest, body).external_user_id),
    }),
    [SANDBOX_PATHS.issueCard]: async ({ project, body }) => ({
      status: 200,
      data: await simulator.settleHeldCard(project._id, parse(sandboxCardRequest, body).order_id, 'active'),
    }),
    [SANDBOX_PATHS.failCard]: async ({ project, body }) => ({
      status: 200,
      data: await simulator.settleHeldCard(project._id, parse(sandboxCardRequest, body).order_id, 'failed'),
    }),
  };
}
