import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { echoHandlers, startTestGateway, type TestGateway } from '../support/partner.js';

/**
 * A slow client trickles headers or a body; the server cuts it once its limit passes. The limits
 * are small here; the trickle would go on for a minute, so being cut at all is the point.
 */
function trickle(url: string, head: string, drip: string): Promise<{ answer: string; closedAfterMs: number; sent: number }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket: Socket = connect(Number(port), hostname);
    let answer = '';
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const stopAt = started + 60_000;
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => {
        if (Date.now() > stopAt) {
          clearInterval(timer);
          socket.destroy();
          reject(new Error('the server never cut the slow client'));
          return;
        }
        if (!socket.writable) return;
        socket.write(drip);
        sent++;
      }, 250);
    });
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', () => undefined); // a reset after the cut is the expected end
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer, closedAfterMs: Date.now() - started, sent });
    });
  });
}

function connectionsOf(gw: TestGateway, done: (n: number) => void): void {
  gw.server.getConnections((_err, n) => done(n));
}

describe('server limits: slow clients are cut', function () {
  this.timeout(90_000);
  let gw: TestGateway;

  before(async () => {
    gw = await startTestGateway({ partnerHandlers: echoHandlers(), config: { HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '2000' } });
  });
  after(() => gw.close());

  it('when headers arrive one line at a time, then the connection is answered 408 and closed after the headers timeout', async () => {
    const { answer, closedAfterMs, sent } = await trickle(gw.url, 'POST /api/v1/orders/check HTTP/1.1\r\nHost: gw\r\n', 'X-Slow: a\r\n');
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.ok(closedAfterMs < 30_000, `closed after ${closedAfterMs} ms, ${sent} lines`);
  });

  it('when a body is trickled one byte at a time, then the connection is answered 408 and closed after the request timeout', async () => {
    const head = 'POST /api/v1/orders/check HTTP/1.1\r\nHost: gw\r\nContent-Type: application/jose\r\nContent-Length: 60000\r\n\r\n';
    const { answer, closedAfterMs, sent } = await trickle(gw.url, head, 'a');
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.ok(closedAfterMs < 30_000, `closed after ${closedAfterMs} ms, ${sent} bytes`);
  });

  it('when a client behaves, then the same gateway answers it', async () => {
    assert.equal((await fetch(`${gw.url}/.well-known/jwks.json`)).status, 200);
  });

  it('when more connections are open than HTTP_MAX_CONNECTIONS, then the surplus one is closed unanswered, and a freed slot serves again', async () => {
    const capped = await startTestGateway({ partnerHandlers: echoHandlers(), config: { HTTP_MAX_CONNECTIONS: '2' } });
    const { hostname, port } = new URL(capped.url);
    const open = () =>
      new Promise<Socket>((resolve, reject) => {
        const socket = connect(Number(port), hostname, () => resolve(socket));
        socket.once('error', reject);
      });
    const held: Socket[] = [];
    try {
      held.push(await open(), await open());
      // Wait until the server has accepted both (it counts connections it has seen).
      for (let i = 0; i < 500 && (await new Promise<number>((r) => connectionsOf(capped, r))) < 2; i++) await new Promise((r) => setTimeout(r, 10));
      const surplus = await open();
      const answered = await new Promise<string>((resolve) => {
        let text = '';
        surplus.on('data', (c: Buffer) => (text += c.toString('latin1')));
        surplus.on('error', () => undefined);
        surplus.on('close', () => resolve(text));
        surplus.write('GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n');
      });
      assert.equal(answered, '', 'the surplus connection got no answer');
      held.shift()!.destroy();
      for (let i = 0; i < 500 && (await new Promise<number>((r) => connectionsOf(capped, r))) > 1; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal((await fetch(`${capped.url}/.well-known/jwks.json`)).status, 200);
    } finally {
      for (const socket of held) socket.destroy();
      await capped.close();
    }
  });
});
