import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
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
  await relay(response.body, res);
  return response.status;
}

/**
 * Pipes the origin's body to the client; resolves when the answer is complete or either side went away (then
 * both are torn down). Hand-written instead of stream.pipeline: pipeline makes an AbortController per call and
 * aborts it when done, which builds a DOMException with a stack trace; a --cpu-prof of the ingress under
 * pass-through load (100 connections, 2026-12-04) spent ~7 % of its busy time in that (DOMException,
 * AbortController and AbortSignal frames under pipeline's finish).
 */
export function relay(body: Readable, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (failed: boolean) => {
      if (settled) return;
      settled = true;
      if (failed) {
        body.destroy();
        res.destroy();
      }
      resolve();
    };
    body.once('error', () => settle(true));
    res.once('close', () => settle(!res.writableFinished));
    res.once('finish', () => settle(false));
    body.pipe(res);
  });
}
