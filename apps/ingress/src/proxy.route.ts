import type { IncomingMessage, Server } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { tracerFor } from '#libs/tracing';
import type { HeaderList } from '#libs/upstream';
import { forwardedRequestHeaders } from '#libs/upstream';
import { context, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { classify } from './classify.js';
import { coalescingKeyFor, routeRequest } from './coalescing-key.js';
import type { IngressService } from './ingress.service.js';
import { passThrough, tunnelUpgrade } from './passthrough.js';
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

function hopOf(req: IncomingMessage) {
  return {
    remoteAddress: req.socket.remoteAddress ?? 'unknown',
    protocol: 'encrypted' in req.socket ? 'https' : 'http',
    host: req.headers.host,
  };
}

/**
 * The catch-all proxy route, in its own Fastify context so no body parser
 * touches proxied bodies: each request is classified, then either parked in
 * a slot or streamed through.
 */
export function registerProxy(fastify: FastifyInstance, ingress: IngressService): void {
  const { config } = ingress;
  void fastify.register(async (proxy) => {
    proxy.removeAllContentTypeParsers();
    proxy.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    proxy.route({
      method: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
      url: '/*',
      exposeHeadRoute: false,
      handler: (request, reply) => handle(request, reply),
    });
  });

  function handle(request: FastifyRequest, reply: FastifyReply): void {
    void reply.hijack();
    const raw = request.raw;
    const res = reply.raw;
    const method = raw.method ?? 'GET';
    const url = raw.url ?? '/';
    if (refuseUnsafeTarget(url, res)) return;
    const headers = headerList(raw);
    const parent = propagation.extract(ROOT_CONTEXT, raw.headers);
    const span = tracer.startSpan(
      'ingress.request',
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': url } },
      parent,
    );
    const { route, request: normalized } = routeRequest(ingress.routes, url);
    const forward = forwardedRequestHeaders(headers, hopOf(raw));
    const classification = classify(method, headers, route.coalesce);
    const arrivedAtMs = performance.now();
    if (classification.kind === 'passthrough') {
      span.setAttribute('batchgate.passthrough', classification.reason);
      const body = (request.body as Readable | undefined) ?? (classification.reason === 'body' ? raw : null);
      // The raw target, untouched: nothing is shared here, so the origin may resolve it as it likes.
      void context.with(trace.setSpan(parent, span), () =>
        passThrough(ingress.origins, config.upstream, { method, target: url, headers: forward, body }, res).then((status) => {
          span.setAttribute('http.response.status_code', status);
          span.end();
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
      if (!res.writableFinished) waiter.done = true;
    });
    context.with(trace.setSpan(parent, span), () =>
      ingress.coalescer.admit(waiter, key, route, { method, target: key.target, headers: forward }),
    );
  }
}

/** Upgrade requests bypass Fastify: the raw server hands them to the tunnel, tracked so shutdown can close them. */
export function registerUpgrades(server: Server, ingress: IngressService): void {
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const upstream = tunnelUpgrade(ingress.config.upstream, req, socket, head, forwardedRequestHeaders(headerList(req), hopOf(req)));
    ingress.tunnels.add(socket);
    socket.once('close', () => {
      ingress.tunnels.delete(socket);
      upstream.destroy();
    });
  });
}
