import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Slow request bodies (slowloris on the body) must not hold a client
 * connection and an upstream call open: a pass-through body has to deliver at
 * least `minBytesPerSecond` over every `windowMs`, or the request is answered
 * 408 and its socket closed. One sweep timer for all bodies instead of a timer
 * per request, and progress is read from the socket's byte counter, so the
 * streaming path gains no per-chunk listener.
 */
export interface BodyRateLimit {
  windowMs: number;
  minBytesPerSecond: number;
}

/** Pure: whether a body that moved `bytes` in `elapsedMs` (a full window) is too slow. */
export function bodyTooSlow(limit: BodyRateLimit, bytes: number, elapsedMs: number): boolean {
  return elapsedMs >= limit.windowMs && bytes < (limit.minBytesPerSecond * elapsedMs) / 1000;
}

interface Watched {
  res: ServerResponse;
  windowStartMs: number;
  bytesAtWindowStart: number;
}

export class BodyGuard {
  private readonly watched = new Map<IncomingMessage, Watched>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limit: BodyRateLimit,
    private readonly onTooSlow: (req: IncomingMessage, res: ServerResponse) => void,
  ) {}

  /** Watches `req`'s body until it has been read to the end or the exchange is over. */
  watch(req: IncomingMessage, res: ServerResponse): void {
    if (req.complete) return;
    this.watched.set(req, { res, windowStartMs: performance.now(), bytesAtWindowStart: req.socket.bytesRead });
    const forget = () => this.watched.delete(req);
    req.once('end', forget);
    res.once('close', forget);
    // A quarter window between sweeps: a too-slow body is caught within 1.25 windows.
    this.timer ??= setInterval(() => this.sweep(), Math.max(50, this.limit.windowMs / 4)).unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.watched.clear();
  }

  private sweep(): void {
    const now = performance.now();
    for (const [req, entry] of this.watched) {
      const elapsed = now - entry.windowStartMs;
      if (elapsed < this.limit.windowMs) continue;
      const bytes = req.socket.bytesRead - entry.bytesAtWindowStart;
      if (bodyTooSlow(this.limit, bytes, elapsed)) {
        this.watched.delete(req);
        this.onTooSlow(req, entry.res);
      } else {
        entry.windowStartMs = now;
        entry.bytesAtWindowStart = req.socket.bytesRead;
      }
    }
    if (this.watched.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
