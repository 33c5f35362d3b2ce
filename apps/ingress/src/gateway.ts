import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Admission } from './admission.js';
import { BodyGuard } from './body-guard.js';
import type { IngressConfig } from './config.js';
import type { Refusal } from './refusal.js';
import { clientErrorRefusal, refuse, refuseRaw } from './refusal.js';
import { checkRequestTarget } from './request-target.js';

/** What the gateway hands on: an admitted request with an origin-form target (req.url) and one Host. */
export interface GatewayHandlers {
  request(req: IncomingMessage, res: ServerResponse): void;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Counts a request answered 503 by the budgets ("connections" or "inflight"). */
  shed(reason: 'connections' | 'inflight'): void;
}

/** Cross-site tracing (TRACE echoes the request, credentials included, to a script) is refused on purpose. */
const REFUSED_METHODS = new Set(['TRACE']);
const ALLOW = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS and any other method except TRACE and CONNECT';

const hasBody = (req: IncomingMessage): boolean =>
  req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';

/**
 * The gateway port: a plain node:http server in front of the proxy, with no
 * framework routes, so every path and every method the parser knows reaches
 * the origin. It owns what must happen before a request is classified:
 * the connection and in-flight budgets (503 + Retry-After, never a reset),
 * the request-target and Host checks, header and body timeouts (408), and
 * an answer for whatever the parser rejects.
 */
export class Gateway {
  readonly server: Server;
  readonly admission: Admission;
  private readonly overBudget = new WeakSet<Socket>();
  private readonly refused = new WeakSet<Duplex>();
  private readonly bodies: BodyGuard;

  constructor(
    private readonly config: IngressConfig,
    private readonly handlers: GatewayHandlers,
  ) {
    this.admission = new Admission({ maxConnections: config.maxConnections, maxInflight: config.maxInflight }, performance.now());
    this.bodies = new BodyGuard({ windowMs: config.bodyTimeoutMs, minBytesPerSecond: config.bodyMinBytesPerSecond }, (req, res) =>
      this.bodyTooSlow(req, res),
    );
    this.server = createServer({
      headersTimeout: config.headerTimeoutMs,
      // The body has its own rate guard; a whole-request deadline would cut long, healthy uploads.
      requestTimeout: 0,
      // Node checks header deadlines on this interval (default 30 s, hence the 76 s 408 seen before).
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(config.headerTimeoutMs / 4))),
      // Host is checked here, with a reason in the answer.
      requireHostHeader: false,
      keepAliveTimeout: 5000,
    });
    this.server.on('connection', (socket: Socket) => this.connected(socket));
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => this.request(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    this.server.on('connect', (_req: IncomingMessage, socket: Duplex) =>
      refuseRaw(socket, {
        status: 405,
        error: 'method_not_allowed',
        message: 'this gateway is not a forward proxy: CONNECT is refused',
        headers: { allow: ALLOW },
      }),
    );
    this.server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => this.clientError(error, socket));
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  get listening(): boolean {
    return this.server.listening;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  /** Stops accepting connections and closes idle keep-alive ones; requests in flight finish. */
  stopAccepting(): void {
    this.server.close();
    this.server.closeIdleConnections();
  }

  /** Closes whatever is still open (after the drain). */
  closeAll(): void {
    this.bodies.close();
    this.server.closeAllConnections();
  }

  private connected(socket: Socket): void {
    if (!this.admission.connectionOpened()) this.overBudget.add(socket);
    socket.once('close', () => this.admission.connectionClosed());
  }

  private shedding(reason: string): Refusal {
    return {
      status: 503,
      error: 'overloaded',
      message: `the gateway is at its ${reason}; retry later`,
      headers: { 'retry-after': String(this.admission.retryAfterSeconds(performance.now())) },
    };
  }

  private request(req: IncomingMessage, res: ServerResponse): void {
    if (this.overBudget.has(req.socket)) {
      this.handlers.shed('connections');
      return refuse(res, this.shedding(`connection limit (${this.config.maxConnections})`), true);
    }
    if (!this.admission.admit(performance.now())) {
      this.handlers.shed('inflight');
      return refuse(res, this.shedding(`in-flight request limit (${this.config.maxInflight})`), false);
    }
    res.once('close', () => this.admission.completed(performance.now()));
    if (!this.accept(req, res)) return;
    if (REFUSED_METHODS.has(req.method!)) {
      return refuse(
        res,
        {
          status: 405,
          error: 'method_not_allowed',
          message: `${req.method} is refused on purpose (cross-site tracing)`,
          headers: { allow: ALLOW },
        },
        hasBody(req),
      );
    }
    if (hasBody(req) && this.config.bodyMinBytesPerSecond > 0) this.bodies.watch(req, res);
    this.handlers.request(req, res);
  }

  /** The request-target and Host checks; on success req.url is origin-form and req.headers.host the authority to forward. */
  private accept(req: IncomingMessage, res: ServerResponse): boolean {
    const check = checkRequestTarget({
      url: req.url ?? '',
      httpVersion: req.httpVersion,
      rawHeaders: req.rawHeaders,
      publicAuthorities: this.config.publicAuthorities,
    });
    if (!check.ok) {
      refuse(res, check, true);
      return false;
    }
    req.url = check.target;
    if (check.host !== undefined) req.headers.host = check.host;
    return true;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.overBudget.has(socket as Socket)) {
      this.handlers.shed('connections');
      return refuseRaw(socket, this.shedding(`connection limit (${this.config.maxConnections})`));
    }
    const check = checkRequestTarget({
      url: req.url ?? '',
      httpVersion: req.httpVersion,
      rawHeaders: req.rawHeaders,
      publicAuthorities: this.config.publicAuthorities,
    });
    if (!check.ok) return refuseRaw(socket, check);
    req.url = check.target;
    if (check.host !== undefined) req.headers.host = check.host;
    this.handlers.upgrade(req, socket, head);
  }

  private bodyTooSlow(req: IncomingMessage, res: ServerResponse): void {
    const refusal: Refusal = {
      status: 408,
      error: 'body_too_slow',
      message: `request body slower than ${this.config.bodyMinBytesPerSecond} bytes/s over ${this.config.bodyTimeoutMs} ms`,
    };
    // With connection: close Node closes the socket once the 408 is out. A finished response takes the request off the
    // socket's list, so the close would not abort it: the body is destroyed then, which aborts the upstream call reading it.
    req.socket.once('close', () => req.destroy());
    if (!res.headersSent) refuse(res, refusal, true);
    else req.socket.destroy();
  }

  private clientError(error: Error & { code?: string; reason?: string; rawPacket?: Buffer }, socket: Duplex): void {
    // A second parse error on a connection already being closed, or a peer that is gone: nothing to answer.
    if (this.refused.has(socket) || error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    // A response of an earlier request is still being written: a raw answer would interleave with it.
    if ((socket as { _httpMessage?: unknown })._httpMessage) return void socket.destroy();
    this.refused.add(socket);
    refuseRaw(socket, clientErrorRefusal(error, this.config.headerTimeoutMs));
  }
}
