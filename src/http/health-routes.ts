import { Router } from 'express';
import type { Connection } from 'mongoose';
import { pingDatabase } from '../store/database.js';
import { sendError } from './respond.js';

export interface Readiness {
  /** False once shutdown has begun, so load balancers stop sending traffic. */
  accepting: boolean;
}

/** /healthz: the process is alive. /readyz: it can serve, i.e. the database answers. */
export function healthRoutes(connection: Connection, readiness: Readiness): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    if (readiness.accepting && (await pingDatabase(connection))) {
      res.json({ status: 'ready' });
      return;
    }
    await sendError(res, 'service_unavailable');
  });
  return router;
}
