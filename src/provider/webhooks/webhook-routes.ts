import express, { Router, type Request } from 'express';
import type { KeyObject } from 'node:crypto';
import type { Connection } from 'mongoose';
import { GatewayError } from '../../errors/gateway-error.js';
import type { Logger } from '../../logging/logger.js';
import { digestMatches, SignatureRejected, verifyMessage } from '../http/message-signature.js';
import { SIGNED_WEBHOOK_COMPONENTS } from '../http/wire.js';
import { webhookEvent, WebhookService } from './webhook-service.js';

/** Where the provider posts its card events (docs/provider.md, "Webhooks"). */
export const PROVIDER_WEBHOOK_PATH = '/provider/webhooks';

/**
 * The provider's webhook endpoint: a body is trusted only with a matching Content-Digest and an
 * RFC 9421 signature by one of PROVIDER_WEBHOOK_KEYS over @method, @path and content-digest,
 * created within PROVIDER_SIGNATURE_MAX_AGE_S. Anything else is 401 `provider_webhook_rejected`
 * and changes nothing.
 */
export function providerWebhookRoutes(deps: { connection: Connection; logger: Logger; keys: ReadonlyMap<string, KeyObject>; maxAgeS: number }): Router {
  const service = new WebhookService(deps.connection);
  const router = Router();
  router.post(PROVIDER_WEBHOOK_PATH, express.raw({ type: () => true, limit: 64 * 1024 }), async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    await verify(req, body, deps.keys, deps.maxAgeS, deps.logger);
    let parsed;
    try {
      parsed = webhookEvent.safeParse(JSON.parse(body.toString('utf8')));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) throw new GatewayError('validation_error', 'The provider event is not valid.');
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
