import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Answers the gateway gives itself, before or instead of the origin's: JSON
 * `{"error", "message"}` like every other batchgate 4xx/5xx, marked
 * `x-batchgate: refused` so they are never mistaken for the origin's.
 */
export interface Refusal {
  status: number;
  error: string;
  message: string;
  /** Extra response fields (Allow, Retry-After ...). */
  headers?: Record<string, string>;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** How long a connection closed after a refusal is still read (and discarded), so unread client bytes do not turn the close into a reset. */
const LINGER_MS = 2000;

function fields(refusal: Refusal, body: string, close: boolean): Record<string, string> {
  return {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'x-batchgate': 'refused',
    ...(close ? { connection: 'close' } : {}),
    ...refusal.headers,
  };
}

/** On a parsed request; `close` ends the connection after the answer (the request's framing is not trusted, or the client is over budget). */
export function refuse(res: ServerResponse, refusal: Refusal, close: boolean): void {
  const body = JSON.stringify({ error: refusal.error, message: refusal.message });
  if (close) res.shouldKeepAlive = false;
  res.writeHead(refusal.status, fields(refusal, body, close));
  res.end(body);
}

/** On a raw socket (parse errors, CONNECT, refused upgrades): the answer, then the connection is drained and closed. */
export function refuseRaw(socket: Duplex, refusal: Refusal): void {
  const body = JSON.stringify({ error: refusal.error, message: refusal.message });
  const head = Object.entries(fields(refusal, body, true))
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.write(`HTTP/1.1 ${refusal.status} ${REASONS[refusal.status] ?? ''}\r\n${head}\r\n${body}`);
  closeAfterAnswer(socket);
}

/** Nothing more on this connection is read as HTTP: it is drained and closed. */
export function closeAfterAnswer(socket: Duplex): void {
  socket.end();
  socket.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/** RFC 9110 §5.6.2 token: a method name llhttp does not know is still a method. */
const TOKEN_METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ /;

/**
 * The answer for a request Node's parser (llhttp) rejected. Unknown token
 * methods get 501 (RFC 9110 §15.6.2: the method is not recognised), a header
 * timeout 408, oversized headers 431, anything else malformed 400.
 */
export function clientErrorRefusal(error: { code?: string; reason?: string; rawPacket?: Buffer }, headerTimeoutMs: number): Refusal {
  switch (error.code ?? '') {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, error: 'header_timeout', message: `request headers did not arrive within ${headerTimeoutMs} ms` };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, error: 'headers_too_large', message: 'request headers exceed the size limit' };
    case 'HPE_INVALID_METHOD':
      if (error.rawPacket && TOKEN_METHOD.test(error.rawPacket.subarray(0, 64).toString('latin1')))
        return { status: 501, error: 'unknown_method', message: 'the request method is not one the gateway parses (see README: methods)' };
      return { status: 400, error: 'malformed_request', message: 'the request line is not HTTP/1.x' };
    default:
      return { status: 400, error: 'malformed_request', message: `malformed request (${error.reason ?? error.code ?? 'parse error'})` };
  }
}
