import { Router, type Request, type Response } from 'express';
import type { Actor } from '../back-office/audit-log.js';
import { sendData } from '../http/respond.js';
import type { OrderRepair } from './order-repair.js';

/** The admin API's order-repair routes, mounted inside the admin router (behind its staff auth and JSON parser). */
export function orderRepairRoutes(repair: OrderRepair): Router {
  const router = Router();
  const actor = (res: Response): Actor => ({ staff: res.locals.staff!, via: 'admin_api', requestId: res.locals.requestId });
  const orderId = (req: Request) => String(req.params.order_id);

  router.post('/orders/:order_id/retry', async (req, res) => {
    await sendData(res, 200, await repair.retry(actor(res), orderId(req), req.body ?? {}));
  });
  router.post('/orders/:order_id/fail', async (req, res) => {
    await sendData(res, 200, await repair.fail(actor(res), orderId(req), req.body ?? {}));
  });
  router.post('/orders/:order_id/refund', async (req, res) => {
    await sendData(res, 201, await repair.refund(actor(res), orderId(req), req.body ?? {}));
  });
  return router;
}
