// The fault suite's clients: bounded open-loop load (requests are sent on a
// schedule whatever the answers do, as independent users would) and what each
// request saw, classified the way a client would report it.
import { Agent, request } from 'undici';

export interface Outcome {
  /** When it was sent (Date.now()). */
  at: number;
  ms: number;
  /** 'ok', 'refused', 'reset', 'timeout', '5xx <status>', 'status <status>' or 'error <code>'. */
  kind: string;
}

interface ErrorLike {
  name?: string;
  code?: string;
  cause?: ErrorLike;
}

/** A failed request as a client names it. */
export function errorKind(error: unknown): string {
  const e = (error ?? {}) as ErrorLike;
  // AbortSignal.timeout()'s DOMException has the numeric code 23: its name is what says timeout.
  const code = e.name === 'TimeoutError' ? e.name : (e.code ?? e.cause?.code ?? e.name ?? 'unknown');
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return 'reset';
  if (code === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_ABORTED')
    return 'timeout';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connect timeout';
  return `error ${code}`;
}

export const statusKind = (status: number) => (status === 200 ? 'ok' : status >= 500 ? `5xx ${status}` : `status ${status}`);

/**
 * Sends `rate` requests per second, round-robin over `gateways`, each for a key
 * from a mix (half over 10 hot keys, half over 500), until stop(). Every request
 * has a `timeoutMs` deadline. Outstanding requests are capped so a dead fleet
 * cannot grow the generator without bound; a request over the cap counts as 'not sent'.
 */
export function openLoop({ gateways, rate, timeoutMs }: { gateways: string[]; rate: number; timeoutMs: number }) {
  // One connection per outstanding request, as many independent clients would open; the ingress default
  // BATCHGATE_MAX_CONNECTIONS is 1000, which a 300 req/s load with 15 s stalls could reach.
  const agent = new Agent({ connections: 1000, keepAliveTimeout: 10_000, connect: { timeout: timeoutMs } });
  const outcomes: Outcome[] = [];
  const maxOutstanding = 4000;
  let outstanding = 0;
  let sent = 0;
  const started = Date.now();
  let random = 42;
  const next = () => (random = (random * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;

  const send = (i: number) => {
    const at = Date.now();
    if (outstanding >= maxOutstanding) return outcomes.push({ at, ms: 0, kind: 'not sent' });
    const key = next() < 0.5 ? `hot-${Math.floor(next() * 10)}` : `key-${Math.floor(next() * 500)}`;
    const url = `${gateways[i % gateways.length]}/api/items/${key}`;
    outstanding++;
    const done = (kind: string) => {
      outstanding--;
      outcomes.push({ at, ms: Date.now() - at, kind });
    };
    request(url, { dispatcher: agent, signal: AbortSignal.timeout(timeoutMs) })
      .then(async (response) => {
        await response.body.arrayBuffer();
        done(statusKind(response.statusCode));
      })
      .catch((error: unknown) => done(errorKind(error)));
  };

  // A 5 ms timer sends what is due since the start, so late wake-ups do not lower the rate.
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - started) * rate) / 1000);
    while (sent < due) send(sent++);
  }, 5);

  return {
    outcomes,
    stop: async () => {
      clearInterval(timer);
      const until = Date.now() + timeoutMs + 1000;
      while (outstanding > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
      await agent.close().catch(() => undefined);
    },
  };
}

export interface WindowStats {
  requests: number;
  ok: number;
  errors: Record<string, number>;
  p50: number;
  p99: number;
  max: number;
  /** Start of the last failed request after `from` (ms after it), or undefined when none failed. */
  lastFailureMs: number | undefined;
}

const quantile = (sorted: number[], q: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** What the requests sent in [from, to) saw. Latency counts failures too (a timeout waited its deadline). */
export function windowStats(outcomes: Outcome[], from: number, to: number): WindowStats {
  const inWindow = outcomes.filter((o) => o.at >= from && o.at < to);
  const errors: Record<string, number> = {};
  let lastFailure: number | undefined;
  for (const o of inWindow) {
    if (o.kind === 'ok') continue;
    errors[o.kind] = (errors[o.kind] ?? 0) + 1;
    lastFailure = Math.max(lastFailure ?? 0, o.at - from);
  }
  const latencies = inWindow.map((o) => o.ms).sort((a, b) => a - b);
  return {
    requests: inWindow.length,
    ok: inWindow.filter((o) => o.kind === 'ok').length,
    errors,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    max: latencies.at(-1) ?? 0,
    lastFailureMs: lastFailure,
  };
}
