import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HeaderList } from '#libs/upstream';
import { stripHopByHop } from '#libs/upstream';
import { closeAfterAnswer, refuseRaw } from './refusal.js';

export interface TunnelOptions {
  upstream: string;
  /** How long the origin may take to answer the upgrade request. */
  answerTimeoutMs: number;
  /** A tunnel with no bytes either way for this long is closed. */
  idleMs: number;
}

function headLines(status: string, rawHeaders: string[]): string {
  const lines = [status];
  for (let i = 0; i < rawHeaders.length; i += 2) lines.push(`${rawHeaders[i]}: ${rawHeaders[i + 1]}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** The origin refused the upgrade (any status but 101): its answer is relayed as a plain response and the connection closed. */
function relayRefusal(socket: Duplex, response: IncomingMessage): void {
  const kept: string[] = [];
  const headers: HeaderList = [];
  for (let i = 0; i < response.rawHeaders.length; i += 2)
    headers.push([response.rawHeaders[i]!.toLowerCase(), response.rawHeaders[i + 1]!]);
  for (const [name, value] of stripHopByHop(headers)) kept.push(name, value);
  kept.push('connection', 'close', 'x-batchgate', 'passthrough');
  // The body is delimited by the close (Transfer-Encoding was this hop's and is gone), or by the origin's Content-Length.
  socket.write(headLines(`HTTP/1.1 ${response.statusCode} ${response.statusMessage ?? ''}`, kept));
  response.on('data', (chunk: Buffer) => socket.write(chunk));
  response.once('end', () => closeAfterAnswer(socket));
  response.once('error', () => socket.destroy());
}

/**
 * Upgrade requests (WebSocket and the like): the request goes to the origin
 * as a normal HTTP request carrying Connection: Upgrade; only a 101 opens a
 * raw tunnel, copying bytes both ways until either side closes or the tunnel
 * sits idle. Any other answer is relayed and the connection closed, so bytes
 * a client writes after an upgrade request can never reach the origin
 * unparsed. Returns a handle that tears the exchange down.
 */
export function openTunnel(
  options: TunnelOptions,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  forward: HeaderList,
): { destroy(): void } {
  const origin = new URL(options.upstream);
  const headers: OutgoingHttpHeaders = {};
  // Upgrade and Connection are exactly what this hop must carry, so they are set again after the hop-by-hop strip.
  for (const [name, value] of stripHopByHop(forward)) {
    if (name === 'host') continue;
    const prior = headers[name];
    headers[name] = prior === undefined ? value : ([] as string[]).concat(prior as string | string[], value);
  }
  headers.connection = 'Upgrade';
  headers.upgrade = req.headers.upgrade ?? '';
  const call = (origin.protocol === 'https:' ? httpsRequest : httpRequest)({
    protocol: origin.protocol,
    hostname: origin.hostname,
    port: origin.port || undefined,
    method: req.method,
    path: req.url,
    headers,
    agent: false,
    timeout: options.answerTimeoutMs,
  });
  let upstreamSocket: Socket | undefined;
  socket.once('error', () => call.destroy());
  socket.once('close', () => {
    call.destroy();
    upstreamSocket?.destroy();
  });
  call.once('timeout', () => {
    call.destroy();
    refuseRaw(socket, {
      status: 504,
      error: 'upstream_timeout',
      message: `origin did not answer the upgrade within ${options.answerTimeoutMs} ms`,
    });
  });
  call.once('error', () => {
    if (!socket.destroyed && socket.writable)
      refuseRaw(socket, { status: 502, error: 'upstream_unreachable', message: 'origin unreachable' });
  });
  call.once('response', (response: IncomingMessage) => relayRefusal(socket, response));
  call.once('upgrade', (response: IncomingMessage, upstream: Socket, upstreamHead: Buffer) => {
    upstreamSocket = upstream;
    call.setTimeout(0);
    socket.write(headLines(`HTTP/1.1 101 ${response.statusMessage ?? 'Switching Protocols'}`, response.rawHeaders));
    if (upstreamHead.length > 0) socket.write(upstreamHead);
    if (head.length > 0) upstream.write(head);
    // A tunnel lives and dies as one: whichever side closes or idles takes the other with it.
    const teardown = () => {
      socket.destroy();
      upstream.destroy();
    };
    upstream.once('close', teardown);
    upstream.once('error', teardown);
    upstream.setTimeout(options.idleMs, teardown);
    (socket as Socket).setTimeout?.(options.idleMs, teardown);
    socket.pipe(upstream).pipe(socket);
  });
  call.end();
  return {
    destroy: () => {
      call.destroy();
      upstreamSocket?.destroy();
      socket.destroy();
    },
  };
}
