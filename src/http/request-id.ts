import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../logging/logger.js';

// A caller's id is kept only when it is short and plain, so it cannot smuggle anything into logs.
const ACCEPTED_ID = /^[A-Za-z0-9._-]{8,64}$/;
// Paths are logged only when plain (ids and route words); anything else, escapes included, is
// replaced, so no crafted input reaches the log.
const PLAIN_PATH = /^[A-Za-z0-9/._~-]{1,256}$/;

/** Gives every request an id (X-Request-Id, both ways) and logs one line when it ends. */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    const requestId = incoming && ACCEPTED_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      logger.info('request', {
        request_id: requestId,
        method: req.method,
        path: PLAIN_PATH.test(req.path) ? req.path : '(not plain)',
        status: res.statusCode,
        duration_ms: Number(process.hrtime.bigint() - started) / 1e6,
        project_id: res.locals.projectId,
      });
    });
    next();
  };
}
