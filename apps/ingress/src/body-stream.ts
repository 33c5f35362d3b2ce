import type { ServerResponse } from 'node:http';

/** How a streamed body ended: whole, or cut (the waiters' connections were closed). */
export type BodyOutcome = { ok: true; bytes: number } | { ok: false; bytes: number; reason: string };

export interface BodyStreamLimits {
  /**
   * Bytes a waiter's socket may hold unsent before it is dropped: one slow
   * client must neither hold the others back nor make the ingress buffer the
   * whole body for it.
   */
  maxUnsentBytes: number;
  /** A body with no piece for this long is cut (its worker died, or a piece was lost with NATS). */
  idleMs: number;
}

/** 4 MiB unsent per client (a few hundred ms of a slow mobile link), 30 s without a piece (the default upstream timeout). */
export const DEFAULT_STREAM_LIMITS: BodyStreamLimits = { maxUnsentBytes: 4 * 1024 * 1024, idleMs: 30_000 };

/**
 * A body that arrives in pieces after its head (a large or unknown-length
 * answer, from a worker over NATS or from this ingress's own origin call),
 * written to every waiter served it as each piece comes. Pieces are kept only
 * until `seal()` (no more waiters will attach: the answer was distributed),
 * so a waiter attached late still gets the whole body and the ingress keeps
 * no copy afterwards. A cut body destroys each waiter's connection: a client
 * sees an error, never a short body presented as complete.
 */
export class BodyStream {
  private kept: Buffer[] | undefined = [];
  private readonly sinks = new Set<ServerResponse>();
  private outcome: BodyOutcome | undefined;
  private bytes = 0;
  private idle: NodeJS.Timeout | undefined;
  private readonly settled: Promise<BodyOutcome>;
  private resolve: (outcome: BodyOutcome) => void = () => undefined;

  constructor(private readonly limits: BodyStreamLimits) {
    this.settled = new Promise((resolve) => (this.resolve = resolve));
    this.arm();
  }

  /** Resolves once the body ended or was cut. */
  get done(): Promise<BodyOutcome> {
    return this.settled;
  }

  push(piece: Buffer): void {
    if (this.outcome) return;
    this.bytes += piece.length;
    this.kept?.push(piece);
    for (const res of this.sinks) this.write(res, piece);
    this.arm();
  }

  end(): void {
    this.finish({ ok: true, bytes: this.bytes });
  }

  fail(reason: string): void {
    this.finish({ ok: false, bytes: this.bytes, reason });
  }

  /** Serves the body to `res`, whose head was written: what came so far, then each piece as it comes. */
  attach(res: ServerResponse): void {
    if (res.destroyed) return;
    if (this.outcome && !this.outcome.ok) {
      res.destroy();
      return;
    }
    for (const piece of this.kept ?? []) this.write(res, piece);
    if (this.outcome) res.end();
    else if (!res.destroyed) {
      this.sinks.add(res);
      res.once('close', () => this.sinks.delete(res));
    }
  }

  /** No more waiters will attach: pieces are no longer kept. */
  seal(): void {
    this.kept = undefined;
  }

  private write(res: ServerResponse, piece: Buffer): void {
    if (res.destroyed) return;
    res.write(piece);
    if (res.writableLength > this.limits.maxUnsentBytes) {
      this.sinks.delete(res);
      res.destroy();
    }
  }

  private finish(outcome: BodyOutcome): void {
    if (this.outcome) return;
    this.outcome = outcome;
    clearTimeout(this.idle);
    for (const res of this.sinks) {
      if (outcome.ok) res.end();
      else res.destroy();
    }
    this.sinks.clear();
    if (!outcome.ok) this.kept = undefined;
    this.resolve(outcome);
  }

  private arm(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.fail(`no piece of the body for ${this.limits.idleMs} ms`), this.limits.idleMs);
    this.idle.unref();
  }
}
