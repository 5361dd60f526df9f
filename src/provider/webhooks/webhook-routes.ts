import express, { Router, type Request } from 'express';
import type { KeyObject } from 'node:crypto';
import type { Connection } from 'mongoose';
import { GatewayError } from '../../errors/gateway-error.js';
import type { Logger } from '../../logging/logger.js';
import { digestMatches, SignatureRejected, verifyMessage } from '../http/message-signature.js';
import { SIGNED_WEBHOOK_COMPONENTS } from '../http/wire.js';
import { accountEvent, webhookEvent, WebhookService } from './webhook-service.js';
import { applyAccountVerdict } from '../../cardholders/cardholder-verdicts.js';
import type { CardEventRecorder } from '../../webhooks/card-events.js';

/** Where the provider posts its card events (docs/provider.md, "Webhooks"). */
export const PROVIDER_WEBHOOK_PATH = '/provider/webhooks';

/**
 * The provider's webhook endpoint: a body is trusted only with a matching Content-Digest and an
 * RFC 9421 signature by one of PROVIDER_WEBHOOK_KEYS over @method, @path and content-digest,
 * created within PROVIDER_SIGNATURE_MAX_AGE_S. Anything else is 401 `provider_webhook_rejected`
 * and changes nothing.
 */
export function providerWebhookRoutes(deps: { connection: Connection; logger: Logger; keys: ReadonlyMap<string, KeyObject>; maxAgeS: number; cardEvents: CardEventRecorder }): Router {
  const service = new WebhookService(deps.connection, deps.cardEvents);
  const router = Router();
  router.post(PROVIDER_WEBHOOK_PATH, express.raw({ type: () => true, limit: 64 * 1024 }), async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    await verify(req, body, deps.keys, deps.maxAgeS, deps.logger);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      json = undefined;
    }
    // A customer account's verdict: recorded on the cardholder (src/cardholders/), idempotent by itself.
    const account = accountEvent.safeParse(json);
    if (account.success) {
      const { id, reference, status } = account.data.data.account;
      const changed = await applyAccountVerdict(deps.connection, { reference, accountId: id, verification: status === 'active' ? 'verified' : 'rejected' });
      deps.logger.info('provider event received', { event_id: account.data.id, type: account.data.type, outcome: changed ? 'applied' : 'ignored' });
      res.status(200).json({ received: true, outcome: changed ? 'applied' : 'ignored' });
      return;
    }
    const parsed = webhookEvent.safeParse(json);
    if (!parsed.success) throw new GatewayError('validation_error', 'The provider event is not valid.');
    const outcome = await service.apply(parsed.data);
    deps.logger.info('provider event received', { event_id: parsed.data.id, type: parsed.data.type, outcome });
    res.status(200).json({ received: true, outcome });
  });
  return router;
}

async function verify(req: Request, body: Buffer, keys: ReadonlyMap<string, KeyObject>, maxAgeS: number, logger: Logger): Promise<void> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  try {
    if (!digestMatches(headers['content-digest'], body)) throw new SignatureRejected('bad_signature');
    await verifyMessage({ method: req.method, url: `http://${req.headers.host ?? 'gateway'}${req.originalUrl}`, headers }, keys, SIGNED_WEBHOOK_COMPONENTS, maxAgeS);
  } catch (err) {
    if (!(err instanceof SignatureRejected)) throw err;
    logger.warn('provider event rejected', { reason: err.reason });
    throw new GatewayError('provider_webhook_rejected');
  }
}
