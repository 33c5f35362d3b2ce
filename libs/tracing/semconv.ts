import type { Attributes, Context, Span, Tracer } from '@opentelemetry/api';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import {
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
  MESSAGING_OPERATION_TYPE_VALUE_SEND,
} from '@opentelemetry/semantic-conventions/incubating';
import { tracingRecords } from './tracing.js';

/** The conventions list no value for NATS; "nats" is what other instrumentations use. */
export const MESSAGING_SYSTEM_NATS = 'nats';

/** A request target split the way url.path and url.query want it (the query without its "?"). */
export function splitTarget(target: string): { path: string; query: string | undefined } {
  const at = target.indexOf('?');
  return at < 0 ? { path: target, query: undefined } : { path: target.slice(0, at), query: target.slice(at + 1) };
}

/** server.address and server.port from a Host header (the scheme's default port when it names none). */
export function hostAndPort(host: string | undefined, scheme: string): { address: string | undefined; port: number | undefined } {
  const fallback = scheme === 'https' ? 443 : 80;
  if (!host) return { address: undefined, port: undefined };
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  if (!match) return { address: undefined, port: undefined };
  return { address: match[1], port: match[2] ? Number(match[2]) : fallback };
}

/**
 * http.route of a batchgate route: its prefix as a template ("/api/" ->
 * "/api/*") or its regular expression as written. Low cardinality by
 * construction: one value per configured route.
 */
export function routeTemplate(match: string): string {
  if (match.startsWith('^')) return match;
  return `${match}*`;
}

export interface ServerRequest {
  method: string;
  target: string;
  scheme: string;
  host: string | undefined;
}

/** Attributes of an HTTP server span known when the request arrives. */
export function httpServerAttributes(request: ServerRequest): Attributes {
  const { path, query } = splitTarget(request.target);
  const { address, port } = hostAndPort(request.host, request.scheme);
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: request.method,
    [ATTR_URL_PATH]: path,
    [ATTR_URL_SCHEME]: request.scheme,
  };
  if (query !== undefined) attributes[ATTR_URL_QUERY] = query;
  if (address !== undefined) attributes[ATTR_SERVER_ADDRESS] = address;
  if (port !== undefined) attributes[ATTR_SERVER_PORT] = port;
  return attributes;
}

/**
 * The SERVER span of a request arriving at the gateway, child of `parent`
 * (the client's trace context, or ROOT). Named after the method alone until
 * the route is known (see nameServerSpan); attributes are built only for a
 * recorded span, so with tracing off nothing per request is.
 */
export function startServerSpan(tracer: Tracer, request: ServerRequest, parent: Context): Span {
  return tracer.startSpan(
    request.method,
    { kind: SpanKind.SERVER, attributes: tracingRecords() ? httpServerAttributes(request) : undefined },
    parent,
  );
}

/** Names the server span after its route ("GET /api/*"), as the conventions ask once the route is known. */
export function nameServerSpan(span: Span, method: string, match: string): void {
  nameServerSpanAfter(span, method, routeTemplate(match));
}

/** nameServerSpan for a route that is a template already ("/v1/embeddings"). */
export function nameServerSpanAfter(span: Span, method: string, route: string): void {
  span.setAttribute(ATTR_HTTP_ROUTE, route);
  span.updateName(`${method} ${route}`);
}

/** Attributes of an HTTP client span calling `origin` (a URL) for `target`. */
export function httpClientAttributes(method: string, origin: URL, target: string): Attributes {
  const scheme = origin.protocol.replace(/:$/, '');
  return {
    [ATTR_HTTP_REQUEST_METHOD]: method,
    [ATTR_URL_FULL]: new URL(target, origin).href,
    [ATTR_SERVER_ADDRESS]: origin.hostname,
    [ATTR_SERVER_PORT]: origin.port ? Number(origin.port) : scheme === 'https' ? 443 : 80,
  };
}

/**
 * The response status on a span, and error status where the conventions put
 * it: 5xx for a server (4xx is the client's fault), 4xx and 5xx for a client.
 */
export function endHttpSpan(span: Span, status: number, side: 'server' | 'client'): void {
  span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  if (status >= 500 || (side === 'client' && status >= 400)) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

export type MessagingOperation = 'send' | 'process';

/** Span name and attributes of a NATS send or process span ("send coord.join.3"). */
export function messagingAttributes(operation: MessagingOperation, subject: string, queue?: string): Attributes {
  const attributes: Attributes = {
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_NATS,
    [ATTR_MESSAGING_DESTINATION_NAME]: subject,
    [ATTR_MESSAGING_OPERATION_NAME]: operation,
    [ATTR_MESSAGING_OPERATION_TYPE]: operation === 'send' ? MESSAGING_OPERATION_TYPE_VALUE_SEND : MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
  };
  if (queue) attributes[ATTR_MESSAGING_CONSUMER_GROUP_NAME] = queue;
  return attributes;
}
