import type { Context, Link } from '@opentelemetry/api';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import { BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen, IsolatedCircuitError } from 'cockatiel';
import type { CircuitBreakerPolicy } from 'cockatiel';
import { Pool } from 'undici';
import { endHttpSpan, httpClientAttributes, tracerFor } from '#libs/tracing';
import type { HeaderList } from '#libs/upstream';
import { withTraceContext } from '#libs/upstream';
import type { Candidate } from './balancer.js';
import { pickBackend } from './balancer.js';
import type { InferenceConfig } from './config.js';

const tracer = tracerFor('worker');

/** Options of one backend call; `links` go on its HTTP client span (the client requests the batch answers). */
export interface CallOptions {
  budgetMs: number;
  signal: AbortSignal;
  ctx: Context;
  links?: Link[];
  /** The batch's priority, sent as `x-batchgate-priority` for a backend that schedules by it (others ignore the header). */
  priority?: string;
}

/**
 * A failed backend call. `breaks` counts toward the backend's circuit (no
 * answer, a timeout of the full call limit, 5xx, 429); `retryable` lets an
 * idempotent batch go to another backend. A 4xx is the request's fault: neither.
 */
export class BackendFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly breaks: boolean,
    readonly retryable = breaks,
  ) {
    super(message);
  }
}

/** The call was aborted on purpose (InferBatchCancel): no failure of the backend. */
export class CallCancelled extends Error {}

export interface Backend {
  index: number;
  /** Base URL ending in /v1, without credentials: the name in results, metrics and logs. */
  url: string;
  pending: number;
  readonly breaker: CircuitBreakerPolicy;
  openedAt: number;
}

/** The circuit state as a gauge value and a label (Prometheus `batchgate_inference_circuit_state`). */
export function circuitValue(state: CircuitState): number {
  switch (state) {
    case CircuitState.Closed:
      return 0;
    case CircuitState.Open:
    case CircuitState.Isolated:
      return 1;
    case CircuitState.HalfOpen:
      return 2;
  }
}

/**
 * The worker's inference backends: one connection pool and one circuit breaker
 * (cockatiel, consecutive failures, fixed recovery, one half-open probe) each,
 * and the balancer that picks the next one. A backend whose circuit is open is
 * skipped until its recovery time has passed; then the next call is its probe.
 * A half-open backend with its probe in flight is skipped too: cockatiel would
 * hold other calls until the probe ends, and a batch should not wait on it.
 */
export class BackendPool {
  readonly backends: Backend[];
  private readonly pools: Pool[];
  private turn = 0;

  constructor(
    private readonly config: InferenceConfig,
    onStateChange: (backend: Backend, state: CircuitState) => void = () => undefined,
    private readonly random: () => number = Math.random,
  ) {
    this.pools = config.inferenceBackends.map(
      (url) => new Pool(new URL(url).origin, { connections: config.inferenceConnections, pipelining: 1 }),
    );
    this.backends = config.inferenceBackends.map((url, index) => {
      const breaker = circuitBreaker(
        handleWhen((error) => error instanceof BackendFailure && error.breaks),
        { halfOpenAfter: config.inferenceBreakerRecoveryMs, breaker: new ConsecutiveBreaker(config.inferenceBreakerFailures) },
      );
      const backend: Backend = { index, url, pending: 0, breaker, openedAt: 0 };
      breaker.onBreak(() => (backend.openedAt = Date.now()));
      breaker.onStateChange((state) => onStateChange(backend, state));
      return backend;
    });
  }

  /** May `backend` take a call now (closed, or open long enough for its probe)? */
  callable(backend: Backend, now = Date.now()): boolean {
    const state = backend.breaker.state;
    if (state === CircuitState.Closed) return true;
    return state === CircuitState.Open && now - backend.openedAt >= this.config.inferenceBreakerRecoveryMs;
  }

  /** The balancer's pick among callable backends not in `tried`; undefined when none is left. */
  pick(tried: ReadonlySet<number>): Backend | undefined {
    const candidates: Candidate[] = this.backends.filter((b) => !tried.has(b.index) && this.callable(b));
    // Only first picks take a turn: were retries to take one too, round robin would send every
    // batch to a failing backend first (its retry using up the other backend's turn).
    const turn = tried.size === 0 ? this.turn++ : this.turn;
    const chosen = pickBackend(this.config.inferenceBalancer, candidates, turn, this.random);
    return chosen === undefined ? undefined : this.backends[chosen.index];
  }

  /**
   * POSTs `body` to `path` under the backend's base through its breaker and
   * hands the response to `read` (which consumes the body). Throws
   * BackendFailure (incl. an open circuit, status 503), CallCancelled. Each
   * call made has an HTTP client span, child of `options.ctx`, that ends
   * once `read` is done (a stream's last event included).
   */
  async call<T>(
    backend: Backend,
    path: string,
    body: unknown,
    options: CallOptions,
    read: (status: number, body: AsyncIterable<Buffer> & { json(): Promise<unknown>; text(): Promise<string> }) => Promise<T>,
  ): Promise<T> {
    backend.pending++;
    const limited = options.budgetMs >= this.config.inferenceTimeoutMs;
    const timeout = AbortSignal.timeout(options.budgetMs);
    const signal = AbortSignal.any([options.signal, timeout]);
    const base = new URL(backend.url);
    const own: HeaderList = [['content-type', 'application/json']];
    if (this.config.inferenceApiKey) own.push(['authorization', `Bearer ${this.config.inferenceApiKey}`]);
    if (options.priority) own.push(['x-batchgate-priority', options.priority]);
    const target = `${base.pathname}${path}`;
    const failureOf = (error: unknown): BackendFailure | CallCancelled => {
      if (error instanceof BackendFailure) return error;
      if (options.signal.aborted) return new CallCancelled('the batch was cancelled');
      if (timeout.aborted) return new BackendFailure(504, `no answer within ${options.budgetMs} ms`, limited, limited);
      return new BackendFailure(502, `backend unreachable: ${(error as Error).message}`, true);
    };
    try {
      return await backend.breaker.execute(async () => {
        const span = tracer.startSpan(
          'POST',
          { kind: SpanKind.CLIENT, attributes: httpClientAttributes('POST', base, target), links: options.links },
          options.ctx,
        );
        let status = 0;
        try {
          const response = await this.pools[backend.index]!.request({
            path: target,
            method: 'POST',
            // The backend's spans hang under this call's.
            headers: Object.fromEntries(withTraceContext(own, trace.setSpan(options.ctx, span))),
            body: JSON.stringify(body),
            signal,
          });
          status = response.statusCode;
          return await read(status, response.body);
        } catch (error) {
          const failure = failureOf(error);
          span.setAttribute(ATTR_ERROR_TYPE, failure instanceof CallCancelled ? 'cancelled' : String(failure.status));
          span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
          throw failure;
        } finally {
          if (status > 0) endHttpSpan(span, status, 'client');
          else span.end();
        }
      });
    } catch (error) {
      if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError)
        throw new BackendFailure(503, `the circuit of ${backend.url} is open`, false, true);
      throw error;
    } finally {
      backend.pending--;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((pool) => pool.close()));
  }
}
