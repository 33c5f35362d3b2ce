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

/**
 * Coalesced answers above this size (or of unknown length) are streamed to
 * their waiters. Below it one message carries the whole body (a 256 KiB body
 * is ~1 ms on a local link), so the pieces would only add messages.
 */
export const STREAM_ABOVE_BYTES = 256 * 1024;

/** A streamed answer of fetchAnswer: `latencyMs` is the time to its head; the reader enforces `maxBodyBytes`. */
export interface TimedStream extends StreamedResponse {
  latencyMs: number;
  maxBodyBytes: number;
  /** What was read of the body before it was known to be large (an answer of unknown length). */
  read: Buffer[];
  /** The rest of `body`. */
  rest: AsyncIterator<Buffer>;
}

/** Whether fetchAnswer handed the body back as a stream. */
export const isStreamed = (answer: BufferedResponse | TimedStream): answer is TimedStream => !Buffer.isBuffer(answer.body);

/**
 * The pieces of a streamed body as they arrive. Throws an UpstreamError when
 * the read fails (origin aborted, a gap above bodyTimeout) or the body passes
 * `maxBodyBytes`; the body is dropped then.
 */
export async function* bodyPieces(answer: TimedStream): AsyncGenerator<Buffer> {
  let size = 0;
  try {
    for (const piece of answer.read) {
      size += piece.length;
      yield piece;
    }
    for (let next = await answer.rest.next(); !next.done; next = await answer.rest.next()) {
      size += next.value.length;
      if (size > answer.maxBodyBytes) throw new UpstreamError('too_large', `origin body exceeds the ${answer.maxBodyBytes} byte limit`);
      yield next.value;
    }
  } catch (error) {
    discard(answer.body);
    throw asUpstreamError(error, 0);
  }
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
    return (await this.fetchAnswer(origin, method, path, headers, timeoutMs, Infinity)) as BufferedResponse;
  }

  /**
   * A call whose body is read whole when it has at most `streamAbove` bytes,
   * and otherwise handed back as a stream: at once when the origin declares a
   * larger length, after the first `streamAbove` bytes when it declares none
   * (`latencyMs` is the time to that point), so a large answer reaches its
   * waiters as it arrives. The deadline bounds everything up to that point;
   * a streamed body's reads are bounded by undici's bodyTimeout.
   */
  async fetchAnswer(
    origin: string,
    method: string,
    path: string,
    headers: HeaderList,
    timeoutMs = this.options.timeoutMs,
    streamAbove = STREAM_ABOVE_BYTES,
  ): Promise<BufferedResponse | TimedStream> {
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
      const length = response.headers['content-length'];
      const declared = length === undefined ? undefined : Number(length);
      if (declared !== undefined && declared > this.options.maxBodyBytes) {
        discard(response.body);
        throw new UpstreamError('too_large', `origin body of ${declared} bytes exceeds the ${this.options.maxBodyBytes} byte limit`);
      }
      const large = declared !== undefined && declared > streamAbove;
      const reader = (response.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      const chunks: Buffer[] = [];
      let size = 0;
      // An answer of unknown length is read until it is known to be large: a small one is still served whole.
      for (let next = large ? undefined : await reader.next(); next && !next.done; next = await reader.next()) {
        size += next.value.length;
        if (size > this.options.maxBodyBytes) {
          discard(response.body);
          throw new UpstreamError('too_large', `origin body exceeds the ${this.options.maxBodyBytes} byte limit`);
        }
        chunks.push(next.value);
        if (size > streamAbove) break;
      }
      if (large || size > streamAbove) {
        clearTimeout(deadline);
        return {
          status: response.statusCode,
          headers: toHeaderList(response.headers),
          body: response.body,
          latencyMs: performance.now() - started,
          maxBodyBytes: this.options.maxBodyBytes,
          read: chunks,
          rest: reader,
        };
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
