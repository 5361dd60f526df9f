import assert from 'node:assert/strict';
import express from 'express';
import request from 'supertest';
import { createGateway, type Gateway } from '../../src/app.js';
import { errorHandler, notFound } from '../../src/http/error-handler.js';
import { requestContext } from '../../src/http/request-id.js';
import { capturedLogLines, testLogger } from '../support/log-capture.js';
import { testConfig } from '../support/test-config.js';
import { testStore } from '../support/test-store.js';

describe('HTTP skeleton', () => {
  let gateway: Gateway;

  before(async () => {
    gateway = await createGateway({ config: testConfig(), logger: testLogger, connection: testStore().connection });
  });

  it('when /healthz is asked, then it answers 200 with a request id', async () => {
    const res = await request(gateway.app).get('/healthz').expect(200);
    assert.deepEqual(res.body, { status: 'ok' });
    assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  it('when the database answers, then /readyz is 200; when shutting down, then 503 service_unavailable', async () => {
    await request(gateway.app).get('/readyz').expect(200, { status: 'ready' });
    gateway.readiness.accepting = false;
    try {
      const res = await request(gateway.app).get('/readyz').expect(503);
      assert.equal(res.body.error.slug, 'service_unavailable');
    } finally {
      gateway.readiness.accepting = true;
    }
  });

  it('when a caller sends a plain X-Request-Id, then it is kept; when it is not plain, then it is replaced', async () => {
    const kept = await request(gateway.app).get('/healthz').set('X-Request-Id', 'abc-12345678').expect(200);
    assert.equal(kept.headers['x-request-id'], 'abc-12345678');
    const replaced = await request(gateway.app).get('/healthz').set('X-Request-Id', 'bad id {"x":1}').expect(200);
    assert.notEqual(replaced.headers['x-request-id'], 'bad id {"x":1}');
  });

  it('when no route matches, then the answer is a JSON 404 not_found carrying the request id', async () => {
    const res = await request(gateway.app).get('/no/such/path').expect(404).expect('Content-Type', /json/);
    assert.deepEqual(res.body, {
      error: { slug: 'not_found', message: 'Not found.', request_id: res.headers['x-request-id'] },
    });
  });

  it('when a route throws, then the answer is internal_error with no stack, and the log is redacted', async () => {
    const app = express();
    app.use(requestContext(testLogger));
    app.get('/explode', () => {
      throw new Error('card 4111 1111 1111 1111 exploded');
    });
    app.use(notFound);
    app.use(errorHandler(testLogger));

    const res = await request(app).get('/explode').expect(500);
    assert.deepEqual(Object.keys(res.body.error).sort(), ['message', 'request_id', 'slug']);
    assert.equal(res.body.error.slug, 'internal_error');
    assert.doesNotMatch(JSON.stringify(res.body), /exploded|4111|at /);

    const logged = capturedLogLines().filter((l) => l.includes(res.headers['x-request-id'] as string));
    assert.ok(logged.some((l) => l.includes('unhandled error')), 'the error is logged with the request id');
    assert.ok(logged.every((l) => !l.includes('4111 1111 1111 1111')), 'the card number is redacted');
  });
});
