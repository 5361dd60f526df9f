import { Router } from 'express';
import type { SecureChannel } from '../secure/secure-channel.js';
import { createSandboxHandlers } from './sandbox-handlers.js';
import type { SandboxSimulator } from './sandbox-simulator.js';

/**
 * The sandbox simulator's endpoints, behind the same secure envelope as the partner API (partners
 * drive their own test orders with them). Mounted only when SANDBOX_SIMULATOR_ENABLED.
 */
export function sandboxRoutes(channel: SecureChannel, simulator: SandboxSimulator): Router {
  const router = Router();
  for (const [path, handler] of Object.entries(createSandboxHandlers(simulator))) {
    router.post(path, channel.protect({ path, requireIdempotencyKey: false, handler }));
  }
  return router;
}
