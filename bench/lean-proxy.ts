// The reference for "pass-through should cost about what a lean Node proxy
// costs": node:http in, one keep-alive undici Pool out, bodies piped both
// ways, hop-by-hop fields dropped, nothing else (no classification, spans,
// limits or logs). Run by bench/peers.ts as its own process:
//   node dist/bench/lean-proxy.js <port> <upstream>
import { createServer } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'undici';

const port = Number(process.argv[2]);
const upstream = process.argv[3]!;
const pool = new Pool(upstream, { connections: 256, pipelining: 1 });
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host']);

createServer((req, res) => {
  const headers: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i]!.toLowerCase())) headers.push(raw[i]!, raw[i + 1]!);
  const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
  pool
    .request({ method: req.method as 'GET', path: req.url!, headers, body: hasBody ? req : null })
    .then(async (answer) => {
      const out: string[] = [];
      for (const [name, value] of Object.entries(answer.headers)) {
        if (HOP.has(name) || value === undefined) continue;
        for (const v of Array.isArray(value) ? value : [value]) out.push(name, v);
      }
      res.writeHead(answer.statusCode, out);
      await pipeline(answer.body, res);
    })
    .catch(() => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
}).listen(port, '127.0.0.1', () => process.stdout.write(`lean proxy on ${port}\n`));
