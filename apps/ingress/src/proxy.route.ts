import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { endHttpSpan, httpClientAttributes, nameServerSpan, startServerSpan, tracerFor } from '#libs/tracing';
import type { HeaderList } from '#libs/upstream';
import { forwardedRequestHeaders } from '#libs/upstream';
import { context, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { classify } from './classify.js';
import { coalescingKeyFor, routeRequest } from './coalescing-key.js';
import type { GatewayHandlers } from './gateway.js';
import type { IngressService } from './ingress.service.js';
import { passThrough } from './passthrough.js';
import { openTunnel } from './tunnel.js';
import { refuseUnsafeTarget } from './unsafe-target.js';
import type { Waiter } from './waiter.js';

const tracer = tracerFor('ingress');

/** Request headers as lower-case [name, value] pairs, in arrival order. */
export function headerList(req: IncomingMessage): HeaderList {
  const raw = req.rawHeaders;
  const list: HeaderList = [];
  for (let i = 0; i < raw.length; i += 2) list.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  return list;
}

/** The hop a request came over: the client's address, the scheme and the Host it named. */
export function hopOf(req: IncomingMessage) {
  return {
    remoteAddress: req.socket.remoteAddress ?? 'unknown',
    protocol: 'encrypted' in req.socket ? 'https' : 'http',
    host: req.headers.host,
  };
}

/**
 * The proxy handler behind the gateway server: each request is classified,
 * then either parked in a slot or streamed through. No framework sits in
 * between, so no body parser touches proxied bodies.
 */
export function proxyHandlers(ingress: IngressService): GatewayHandlers {
  const { config } = ingress;
  const tunnel = { upstream: config.upstream, answerTimeoutMs: config.upstreamTimeoutMs, idleMs: config.tunnelIdleMs };
  return {
    request: handle,
    shed: (reason) => ingress.shed(reason),
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
      const exchange = openTunnel(tunnel, req, socket, head, forwardedRequestHeaders(headerList(req), hopOf(req)));
      ingress.tunnels.add(socket);
      socket.once('close', () => {
        ingress.tunnels.delete(socket);
        exchange.destroy();
      });
    },
  };

  function handle(raw: IncomingMessage, res: ServerResponse): void {
    const method = raw.method ?? 'GET';
    const url = raw.url ?? '/';
    if (refuseUnsafeTarget(url, res)) return;
    const headers = headerList(raw);
    const parent = propagation.extract(ROOT_CONTEXT, raw.headers);
    const hop = hopOf(raw);
    // Named "GET /api/*" below once the route is known (semantic conventions: {method} {http.route}).
    const span = startServerSpan(tracer, { method, target: url, scheme: hop.protocol, host: hop.host }, parent);
    const { route, request: normalized } = routeRequest(ingress.routes, url);
    if (span.isRecording()) nameServerSpan(span, method, route.match);
    const forward = forwardedRequestHeaders(headers, hop);
    const classification = classify(method, headers, route.coalesce);
    const arrivedAtMs = performance.now();
    if (classification.kind === 'passthrough') {
      span.setAttribute('batchgate.passthrough', classification.reason);
      const body = raw.headers['transfer-encoding'] !== undefined || (raw.headers['content-length'] ?? '0') !== '0' ? raw : null;
      // The raw target, untouched: nothing is shared here, so the origin may resolve it as it likes.
      const call = span.isRecording()
        ? tracer.startSpan(
            method,
            { kind: SpanKind.CLIENT, attributes: httpClientAttributes(method, new URL(config.upstream), url) },
            trace.setSpan(parent, span),
          )
        : span;
      void context.with(trace.setSpan(parent, call), () =>
        passThrough(ingress.origins, config.upstream, { method, target: url, headers: forward, body }, res).then((status) => {
          if (call !== span) endHttpSpan(call, status, 'client');
          endHttpSpan(span, status, 'server');
          ingress.log.record({
            key: '',
            route: route.name,
            path: 'passthrough',
            status,
            arrivedAtWallMs: Date.now(),
            latencyMs: performance.now() - arrivedAtMs,
            slotId: '',
          });
        }),
      );
      return;
    }
    const key = coalescingKeyFor(normalized, { method, headers, vary: route.vary, isPublic: route.public, partitions: config.partitions });
    const waiter: Waiter = {
      res,
      method,
      headers,
      scope: key.scope,
      forwardHeaders: forward,
      arrivedAtMs,
      arrivedAtWallMs: Date.now(),
      deadlineMs: arrivedAtMs + config.requestTimeoutMs,
      span,
      done: false,
    };
    // A client that hangs up is not written to; the slot goes on for the others.
    res.once('close', () => {
      if (res.writableFinished) return;
      waiter.done = true;
      // No answer will end its span (coalesce skips done waiters): end it here, once, saying why.
      if (span.isRecording() && !res.headersSent) {
        span.setAttribute('error.type', 'client_closed');
        span.end();
      }
    });
    context.with(trace.setSpan(parent, span), () =>
      ingress.coalescer.admit(waiter, key, route, { method, target: key.target, headers: forward }),
    );
  }
}
