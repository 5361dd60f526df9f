import { Router, type Request, type Response } from 'express';
import type { Actor } from '../back-office/audit-log.js';
import { sendData } from '../http/respond.js';
import type { WebhookAdmin } from './webhook-admin.js';

/** The admin API's webhook routes, mounted inside the admin router (behind its staff auth and JSON parser). */
export function webhookAdminRoutes(webhooks: WebhookAdmin): Router {
  const router = Router();
  const actor = (res: Response): Actor => ({ staff: res.locals.staff!, via: 'admin_api', requestId: res.locals.requestId });
  const project = (req: Request) => String(req.params.project_id);
  const eventId = (req: Request) => String(req.params.event_id);

  router.put('/projects/:project_id/webhook', async (req, res) => {
    await sendData(res, 200, await webhooks.setEndpoint(actor(res), project(req), req.body ?? {}));
  });
  router.get('/projects/:project_id/webhook', async (req, res) => {
    await sendData(res, 200, await webhooks.getEndpoint(project(req)));
  });
  router.post('/projects/:project_id/webhook/disable', async (req, res) => {
    await sendData(res, 200, await webhooks.disableEndpoint(actor(res), project(req)));
  });
  router.get('/projects/:project_id/webhook/events', async (req, res) => {
    await sendData(res, 200, await webhooks.listEvents(project(req), req.query));
  });
  router.get('/projects/:project_id/webhook/events/:event_id', async (req, res) => {
    await sendData(res, 200, await webhooks.getEvent(project(req), eventId(req)));
  });
  router.post('/projects/:project_id/webhook/events/:event_id/redeliver', async (req, res) => {
    await sendData(res, 200, await webhooks.redeliver(actor(res), project(req), eventId(req)));
  });
  return router;
}
