// Open-loop load: every request is sent at the time a seeded arrival trace
// says, whether or not earlier ones were answered, and its latency is counted
// from that scheduled time (so a slow server cannot slow the generator down
// and hide its own queueing: no coordinated omission).
import type { Trace } from '#libs/sim';
import { Agent } from 'undici';

export interface OpenLoopResult {
  requests: number;
  ok: number;
  /** Errors by kind: `refused`, `reset`, `timeout`, `status 503`, ... */
  errors: Record<string, number>;
  /** Latency per request from its scheduled time (ms), NaN for errors. */
  latencyMs: Float64Array;
  /** How late the generator sent, p99 (ms): above a few ms the numbers are the generator's, not the target's. */
  sendLagP99Ms: number;
}

export interface OpenLoopOptions {
  /** Base URL; each arrival asks `${base}${path(key)}`. */
  base: string;
  path: (key: number) => string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Client sockets at most (a browser fleet would open more; this bounds the generator). */
  connections?: number;
}

function errorKind(error: unknown): string {
  const code = (error as { code?: string; cause?: { code?: string } }).cause?.code ?? (error as { code?: string }).code ?? '';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return 'reset';
  if (code.includes('TIMEOUT')) return 'timeout';
  return code || 'error';
}

export function quantile(values: Float64Array | number[], q: number): number {
  const sorted = Float64Array.from(values)
    .filter((v) => !Number.isNaN(v))
    .sort();
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Replays `trace` against the target; resolves when every request is answered or has failed. */
export async function runOpenLoop(trace: Trace, options: OpenLoopOptions): Promise<OpenLoopResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const agent = new Agent({
    connections: options.connections ?? 4096,
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 30_000,
  });
  const n = trace.t.length;
  const latencyMs = new Float64Array(n).fill(NaN);
  const errors: Record<string, number> = {};
  const lags: number[] = [];
  let ok = 0;
  let next = 0;
  const inFlight: Array<Promise<void>> = [];
  const start = performance.now() + 50;

  const send = (i: number, scheduledAt: number) => {
    const started = agent
      .request({ origin: options.base, path: options.path(trace.key[i]!), method: 'GET', headers: options.headers ?? {} })
      .then(async (response) => {
        await response.body.text();
        if (response.statusCode >= 200 && response.statusCode < 300) {
          ok++;
          latencyMs[i] = performance.now() - scheduledAt;
        } else {
          const kind = `status ${response.statusCode}`;
          errors[kind] = (errors[kind] ?? 0) + 1;
        }
      })
      .catch((error: unknown) => {
        const kind = errorKind(error);
        errors[kind] = (errors[kind] ?? 0) + 1;
      });
    inFlight.push(started);
  };

  // A 1 ms pump sends everything due; a late wake-up sends the backlog at once (and is measured).
  await new Promise<void>((resolve) => {
    const pump = () => {
      const now = performance.now();
      while (next < n && start + trace.t[next]! <= now) {
        const scheduledAt = start + trace.t[next]!;
        lags.push(now - scheduledAt);
        send(next++, scheduledAt);
      }
      if (next >= n) return resolve();
      setTimeout(pump, Math.max(0, Math.min(1, start + trace.t[next]! - performance.now())));
    };
    setTimeout(pump, 50);
  });
  await Promise.all(inFlight);
  await agent.close();
  return { requests: n, ok, errors, latencyMs, sendLagP99Ms: quantile(lags, 0.99) };
}
