// A small origin for `npm start` when BATCHGATE_UPSTREAM is not set: JSON
// answers after a fixed delay (like a real backend), a call counter, and an
// echo for writes, so coalescing can be seen with curl.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const port = Number(process.argv[2] ?? 9000);
const delayMs = Number(process.argv[3] ?? 20);
let calls = 0;

const server = createServer((req, res) => {
  if (req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ calls }));
    return;
  }
  const call = ++calls;
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    setTimeout(() => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { 'content-type': 'application/json', 'x-origin-call': String(call), 'cache-control': 'max-age=1' });
      res.end(
        req.method === 'HEAD'
          ? undefined
          : JSON.stringify({
              call,
              method: req.method,
              url: req.url,
              servedAt: new Date().toISOString(),
              echo: body.length > 0 ? body.toString() : undefined,
            }),
      );
    }, delayMs);
  });
});

server.keepAliveTimeout = 30_000;
server.listen(port, process.env.BATCHGATE_DEMO_HOST ?? '127.0.0.1', () => {
  process.stdout.write(`demo origin on http://127.0.0.1:${(server.address() as AddressInfo).port} (delay ${delayMs} ms)\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));
