import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect as connectTcp } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { connect as connectTls } from 'node:tls';
import type { HeaderList, OriginPool } from '#libs/upstream';
import { errorAnswer, stripHopByHop, UpstreamError, withTraceContext } from '#libs/upstream';
import { context } from '@opentelemetry/api';

/**
 * Requests that must not be shared go to the origin as they are: the request
 * body streams up and the response body streams back without buffering. Only
 * hop-by-hop fields are dropped, the forwarding fields added, and the trace
 * context replaced by the ingress span's.
 */
export async function passThrough(
  origins: OriginPool,
  upstream: string,
  req: { method: string; target: string; headers: HeaderList; body: Readable | null },
  res: ServerResponse,
): Promise<number> {
  // Read before the first await: the caller runs this inside its ingress span's context.
  const headers = withTraceContext(req.headers, context.active());
  let response;
  try {
    response = await origins.stream(upstream, req.method, req.target, headers, req.body);
  } catch (error) {
    const answer = errorAnswer(error instanceof UpstreamError ? error : new UpstreamError('protocol', String(error)));
    if (!res.headersSent) res.writeHead(answer.status, answer.headers.flat().concat('x-batchgate', 'passthrough'));
    res.end(answer.body);
    return answer.status;
  }
  const flat = response.headers.flat();
  flat.push('x-batchgate', 'passthrough');
  res.writeHead(response.status, flat);
  try {
    await pipeline(response.body, res);
  } catch {
    // The client or the origin went away mid-body; both sides are already torn down.
    res.destroy();
  }
  return response.status;
}

/**
 * Upgrade requests (WebSocket and the like) are tunnelled: the request head
 * is replayed to the origin and bytes are copied both ways until either side closes.
 */
export function tunnelUpgrade(upstream: string, req: IncomingMessage, socket: Duplex, head: Buffer, forward: HeaderList): Duplex {
  const origin = new URL(upstream);
  const port = Number(origin.port || (origin.protocol === 'https:' ? 443 : 80));
  const upstreamSocket =
    origin.protocol === 'https:'
      ? connectTls({ host: origin.hostname, port, servername: origin.hostname })
      : connectTcp({ host: origin.hostname, port });
  const fail = () => {
    socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":"upstream_unreachable"}');
    upstreamSocket.destroy();
  };
  upstreamSocket.once('error', fail);
  // A tunnel lives and dies as one: whichever side closes takes the other with it.
  socket.once('close', () => upstreamSocket.destroy());
  upstreamSocket.once('close', () => socket.destroy());
  socket.once('error', () => upstreamSocket.destroy());
  upstreamSocket.once(origin.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
    upstreamSocket.off('error', fail);
    upstreamSocket.on('error', () => socket.destroy());
    // Upgrade and Connection are exactly what this hop must carry, so they are kept.
    const kept = stripHopByHop(forward).filter(([name]) => name !== 'host');
    const lines = [
      `${req.method} ${req.url} HTTP/1.1`,
      `host: ${origin.host}`,
      'connection: Upgrade',
      `upgrade: ${req.headers.upgrade ?? ''}`,
    ];
    for (const [name, value] of kept) lines.push(`${name}: ${value}`);
    upstreamSocket.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstreamSocket.write(head);
    socket.pipe(upstreamSocket).pipe(socket);
  });
  return upstreamSocket;
}
