import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

export interface RecordedCall {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export type OriginHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer, call: number) => void | Promise<void>;

/**
 * A real HTTP origin that counts and records every call. Its default answer
 * is JSON naming the call number, after `delayMs`; tests swap the handler to
 * set cookies, fail, stall, or echo bodies.
 */
export class CountingOrigin {
  readonly calls: RecordedCall[] = [];
  delayMs = 0;
  private handler: OriginHandler | undefined;
  private upgradeHandler: ((req: IncomingMessage, socket: Duplex) => void) | undefined;
  private readonly upgraded = new Set<Duplex>();

  private constructor(private readonly server: Server) {}

  static async start(delayMs = 0): Promise<CountingOrigin> {
    const server = createServer();
    const origin = new CountingOrigin(server);
    origin.delayMs = delayMs;
    server.keepAliveTimeout = 30_000;
    // A caller that aborts mid-body (the gateway cutting off a too-slow upload) ends the read with "aborted": not a failure of the origin.
    server.on('request', (req, res) => void origin.serve(req, res).catch(() => res.destroy()));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      origin.calls.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.alloc(0) });
      origin.upgraded.add(socket);
      socket.once('close', () => origin.upgraded.delete(socket));
      if (origin.upgradeHandler) origin.upgradeHandler(req, socket);
      else socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return origin;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  callsTo(pathPrefix: string): RecordedCall[] {
    return this.calls.filter((call) => call.url.startsWith(pathPrefix));
  }

  handle(handler: OriginHandler | undefined): void {
    this.handler = handler;
  }

  /** Accepts Upgrade requests with `handler` (recorded as calls too). */
  onUpgrade(handler: (req: IncomingMessage, socket: Duplex) => void): void {
    this.upgradeHandler = handler;
  }

  async close(): Promise<void> {
    for (const socket of this.upgraded) socket.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    this.calls.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    const call = this.calls.length;
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.handler) return this.handler(req, res, body, call);
    const payload = JSON.stringify({ call, method: req.method, url: req.url, authorization: req.headers.authorization ?? null });
    res.writeHead(200, { 'content-type': 'application/json', 'x-origin-call': String(call), 'cache-control': 'max-age=5' });
    res.end(req.method === 'HEAD' ? undefined : payload);
  }
}
