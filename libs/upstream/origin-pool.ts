import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { Pool } from 'undici';
import type { IncomingHttpHeaders } from 'undici/types/header.js';
import { UpstreamError } from './errors.js';
import type { HeaderList } from './headers.js';
import { stripHopByHop } from './headers.js';

export interface BufferedResponse {
  status: number;
  headers: HeaderList;
  body: Buffer;
  latencyMs: number;
}

export interface StreamedResponse {
  status: number;
  headers: HeaderList;
  body: Readable;
}

export interface OriginPoolOptions {
  /** Connections per origin. */
  connections: number;
  /** Deadline for the whole call (headers and body) of a buffered call; streamed calls bound each wait. */
  timeoutMs: number;
  /** Larger buffered bodies fail with `too_large`. */
  maxBodyBytes: number;
}

function toHeaderList(headers: IncomingHttpHeaders): HeaderList {
  const list: HeaderList = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) list.push([name.toLowerCase(), item]);
  }
  return stripHopByHop(list);
}

/**
 * Drops a response body we will not read. Destroying an undici body before
 * its end emits an abort error; with no listener that would be an uncaught
 * exception and take the whole process down. The abort is ours and the call
 * already fails with its own UpstreamError, so the echo is ignored.
 */
function discard(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

function flat(headers: HeaderList): string[] {
  return headers.flatMap(([name, value]) => [name, value]);
}

/** Maps undici / abort failures to the two answers a client can get: 504 or 502. */
function asUpstreamError(error: unknown, timeoutMs: number): UpstreamError {
  if (error instanceof UpstreamError) return error;
  const { name, code, message } = error as { name?: string; code?: string; message?: string };
  if (
    name === 'TimeoutError' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT'
  ) {
    return new UpstreamError('timeout', `origin did not answer within ${timeoutMs} ms`);
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EHOSTUNREACH') {
    return new UpstreamError('unreachable', `origin unreachable (${code})`);
  }
  return new UpstreamError('protocol', `origin call failed: ${message ?? String(error)}`);
}

/** One undici pool per origin, shared by every call the process makes to it. */
export class OriginPool {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly options: OriginPoolOptions) {}

  /** A call whose whole body is read (coalesced answers are fanned out from memory). */
  async fetchBuffered(
    origin: string,
    method: string,
    path: string,
    headers: HeaderList,
    timeoutMs = this.options.timeoutMs,
  ): Promise<BufferedResponse> {
    const started = performance.now();
    // One timer for the whole call. undici's own timeouts are coarse (a 300 ms
    // headersTimeout had not fired after 800 ms, a 1 s one fired after 1.5 s) and
    // its bodyTimeout bounds the gap between chunks, not the call; they stay as
    // the backstop that ends a request nobody waits for any more.
    const timeout = new UpstreamError('timeout', `origin did not answer within ${timeoutMs} ms`);
    let response: Dispatcher.ResponseData | undefined;
    let expired = false;
    let giveUp: (error: Error) => void = () => undefined;
    const deadline = setTimeout(() => {
      expired = true;
      if (response) response.body.destroy(timeout);
      else giveUp(timeout);
    }, timeoutMs);
    try {
      const request = this.pool(origin).request({
        method,
        path,
        headers: flat(headers),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      // An answer that comes after the deadline is dropped unread.
      request.then(
        (late) => expired && late !== response && discard(late.body),
        () => undefined,
      );
      response = await Promise.race([request, new Promise<never>((_, reject) => (giveUp = reject))]);
      const declared = Number(response.headers['content-length'] ?? 0);
      if (declared > this.options.maxBodyBytes) {
        discard(response.body);
        throw new UpstreamError('too_large', `origin body of ${declared} bytes exceeds the ${this.options.maxBodyBytes} byte limit`);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > this.options.maxBodyBytes) {
          discard(response.body);
          throw new UpstreamError('too_large', `origin body exceeds the ${this.options.maxBodyBytes} byte limit`);
        }
        chunks.push(chunk as Buffer);
      }
      return {
        status: response.statusCode,
        headers: toHeaderList(response.headers),
        body: Buffer.concat(chunks, size),
        latencyMs: performance.now() - started,
      };
    } catch (error) {
      throw asUpstreamError(error, timeoutMs);
    } finally {
      clearTimeout(deadline);
    }
  }

  /** A streamed call: the request body flows up and the response body flows back as they arrive. */
  async stream(origin: string, method: string, path: string, headers: HeaderList, body: Readable | null): Promise<StreamedResponse> {
    try {
      const response = await this.pool(origin).request({
        method,
        path,
        headers: flat(headers),
        body,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
      });
      return { status: response.statusCode, headers: toHeaderList(response.headers), body: response.body };
    } catch (error) {
      throw asUpstreamError(error, this.options.timeoutMs);
    }
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.options.connections,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
        keepAliveTimeout: 10_000,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }
}
