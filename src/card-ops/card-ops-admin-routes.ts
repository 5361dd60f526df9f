import { Router, type Response } from 'express';
import type { Actor } from '../back-office/audit-log.js';
import { sendData } from '../http/respond.js';
import { STAFF_CARD_ACTIONS, type StaffCardAction, type StaffCardOps } from './card-ops-admin.js';

/** The admin API's card routes, mounted inside the admin router (behind its staff auth and JSON parser). */
export function cardOpsAdminRoutes(cards: StaffCardOps): Router {
  const router = Router();
  const actor = (res: Response): Actor => ({ staff: res.locals.staff!, via: 'admin_api', requestId: res.locals.requestId });
  for (const action of Object.keys(STAFF_CARD_ACTIONS) as StaffCardAction[]) {
    router.post(`/cards/:card_id/${action}`, async (req, res) => {
      const result = await cards.change(actor(res), action, String(req.params.card_id), req.body ?? {}, req.get('idempotency-key'));
      await sendData(res, result.replayed ? 200 : 201, result.order, result.replayed ? { 'Idempotent-Replayed': 'true' } : {});
    });
  }
  return router;
}
