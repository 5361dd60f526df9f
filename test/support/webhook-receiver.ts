/**
 * A partner's webhook endpoint in its own process, for the delivery tests: it misbehaves on
 * purpose. The first RECEIVER_FAIL_FIRST requests answer 500 (with RECEIVER_FAIL_EACH_FIRST=1,
 * also the first request of every event id); after that every 5th answers only
 * after RECEIVER_SLOW_MS (past the gateway's timeout), every 7th drops the connection without an
 * answer, the rest answer 204. Every request whose body arrived is recorded (also the slow and
 * dropped ones: the partner saw them), and GET /received lists them. Prints `listening PORT`.
 */
import { createServer } from 'node:http';

const failFirst = Number(process.env.RECEIVER_FAIL_FIRST ?? 0);
const slowMs = Number(process.env.RECEIVER_SLOW_MS ?? 1000);
const failEachFirst = process.env.RECEIVER_FAIL_EACH_FIRST === '1';
const received: { id: string; type: string; attempt: string; body: string; answer: string }[] = [];
const seen = new Set<string>();
let posts = 0;

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/received') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(received));
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const n = ++posts;
    const id = String(req.headers['webhook-id']);
    const first = !seen.has(id);
    seen.add(id);
    const answer = n <= failFirst || (failEachFirst && first) ? 'fail' : n % 5 === 0 ? 'slow' : n % 7 === 0 ? 'drop' : 'ok';
    received.push({ id, type: String(req.headers['webhook-type']), attempt: String(req.headers['webhook-attempt']), body: Buffer.concat(chunks).toString('latin1'), answer });
    if (answer === 'fail') {
      res.statusCode = 500;
      res.end('not now');
    } else if (answer === 'slow') {
      setTimeout(() => {
        res.statusCode = 204;
        res.end();
      }, slowMs);
    } else if (answer === 'drop') {
      req.socket.destroy();
    } else {
      res.statusCode = 204;
      res.end();
    }
  });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
