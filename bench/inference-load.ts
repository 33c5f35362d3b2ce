// Open-loop sender for the inference scenarios: every request goes out at its
// scheduled time whether or not earlier ones were answered, and its latency is
// counted from that time (no coordinated omission), as bench/open-loop.ts does
// for GETs. A request not answered within its scenario's deadline is an error.
import { Agent } from 'undici';
import type { Arrival, Priority } from './inference-scenarios.js';
import { bodyOf } from './inference-scenarios.js';

export interface LoadResult {
  arrivals: Arrival[];
  /** Latency per request from its scheduled time (ms), NaN for errors. */
  latencyMs: Float64Array;
  /** Errors by kind: `status 429`, `timeout`, `reset`, ... */
  errors: Record<string, number>;
  ok: number;
  /** Wall time from the first scheduled send to the last answer (ms). */
  elapsedMs: number;
  /** How late the generator sent, p99 (ms): above a few ms the numbers are the generator's. */
  sendLagP99Ms: number;
}

export interface LoadOptions {
  /** Base URL: the gateway, or a backend directly (no batching). */
  base: string;
  deadlineMs: number;
  seed: number;
  /** Header carrying the request's deadline to the gateway (ms from now), when it has one. */
  deadlineHeader?: string;
}

function errorKind(error: unknown): string {
  const e = error as { name?: string; code?: string; cause?: { code?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timeout';
  const code = e.cause?.code ?? e.code ?? '';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return 'reset';
  return code || 'error';
}

export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values)
    .filter((v) => !Number.isNaN(v))
    .sort();
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Latencies of the answered requests of one priority. */
export function latenciesOf(result: LoadResult, priority: Priority): number[] {
  return result.arrivals.flatMap((a, i) => (a.priority === priority && !Number.isNaN(result.latencyMs[i]!) ? [result.latencyMs[i]!] : []));
}

export async function runLoad(arrivals: Arrival[], options: LoadOptions): Promise<LoadResult> {
  const agent = new Agent({ connections: 4096, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
  const n = arrivals.length;
  const latencyMs = new Float64Array(n).fill(NaN);
  const errors: Record<string, number> = {};
  const lags: number[] = [];
  const pending: Array<Promise<void>> = [];
  const bodies = arrivals.map((a, i) => bodyOf(a, i, options.seed));
  let ok = 0;
  let next = 0;
  const start = performance.now() + 50;
  const count = (kind: string) => (errors[kind] = (errors[kind] ?? 0) + 1);

  const send = (i: number, scheduledAt: number) => {
    const { path, body } = bodies[i]!;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.deadlineHeader) headers[options.deadlineHeader] = String(options.deadlineMs);
    const signal = AbortSignal.timeout(Math.max(1, Math.ceil(scheduledAt + options.deadlineMs - performance.now())));
    const request = agent
      .request({ origin: options.base, path, method: 'POST', headers, body: JSON.stringify(body), signal })
      .then(async (response) => {
        await response.body.text();
        if (response.statusCode === 200) {
          ok++;
          latencyMs[i] = performance.now() - scheduledAt;
        } else count(`status ${response.statusCode}`);
      })
      .catch((error: unknown) => void count(errorKind(error)));
    pending.push(request);
  };

  // A 1 ms pump sends everything due; a late wake-up sends the backlog at once (and is measured).
  await new Promise<void>((resolve) => {
    const pump = () => {
      const now = performance.now();
      while (next < n && start + arrivals[next]!.atMs <= now) {
        const scheduledAt = start + arrivals[next]!.atMs;
        lags.push(now - scheduledAt);
        send(next++, scheduledAt);
      }
      if (next >= n) return resolve();
      setTimeout(pump, Math.max(0, Math.min(1, start + arrivals[next]!.atMs - performance.now())));
    };
    setTimeout(pump, 50);
  });
  await Promise.all(pending);
  const elapsedMs = performance.now() - start;
  await agent.close();
  return { arrivals, latencyMs, errors, ok, elapsedMs, sendLagP99Ms: quantile(lags, 0.99) };
}
