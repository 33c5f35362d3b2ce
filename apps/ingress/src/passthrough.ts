import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { HeaderList, OriginPool } from '#libs/upstream';
import { errorAnswer, UpstreamError, withTraceContext } from '#libs/upstream';
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
