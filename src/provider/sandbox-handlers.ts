import { z } from 'zod';
import { validationError } from '../orders/create-card-request.js';
import type { PartnerHandler } from '../partner-api/partner-handler.js';
import { sandboxCardRequest, sandboxRuleRequest, type SandboxSimulator } from './sandbox-simulator.js';

const clearRuleRequest = z.strictObject({ external_user_id: z.string().min(1).max(128) });

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
    '/api/v1/sandbox/rules/set': async ({ project, body }) => ({
      status: 200,
      data: await simulator.setRule(project._id, parse(sandboxRuleRequest, body)),
    }),
    '/api/v1/sandbox/rules/clear': async ({ project, body }) => ({
      status: 200,
      data: await simulator.clearRule(project._id, parse(clearRuleRequest, body).external_user_id),
    }),
    '/api/v1/sandbox/cards/issue': async ({ project, body }) => ({
      status: 200,
      data: await simulator.settleHeldCard(project._id, parse(sandboxCardRequest, body).order_id, 'active'),
    }),
    '/api/v1/sandbox/cards/fail': async ({ project, body }) => ({
      status: 200,
      data: await simulator.settleHeldCard(project._id, parse(sandboxCardRequest, body).order_id, 'failed'),
    }),
  };
}
