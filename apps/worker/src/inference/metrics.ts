import { InferKind } from '#libs/contracts';
import { Counter, Gauge, Histogram } from '#libs/metrics';
import type { Registry } from '#libs/metrics';
import type { BackendPool } from './backends.js';
import { circuitValue } from './backends.js';

export type CallOutcome = 'ok' | 'error_status' | 'failure' | 'timeout' | 'circuit_open' | 'cancelled';

export function kindLabel(kind: InferKind): string {
  switch (kind) {
    case InferKind.EMBEDDING:
      return 'embedding';
    case InferKind.COMPLETION:
      return 'completion';
    case InferKind.CHAT:
      return 'chat';
    case InferKind.UNSPECIFIED:
      return 'unspecified';
  }
}

/** The worker's Flow B metrics, base units, `batchgate_` prefix. */
export class InferenceMetrics {
  readonly latency: Histogram<'backend' | 'kind'>;
  readonly calls: Counter<'backend' | 'outcome'>;
  readonly retries: Counter<'kind'>;
  readonly batches: Counter<'kind' | 'status'>;

  constructor(registry: Registry, pool: BackendPool) {
    new Gauge({
      name: 'batchgate_inference_circuit_state',
      help: 'Circuit breaker state per inference backend: 0 closed, 1 open, 2 half-open',
      labelNames: ['backend'],
      registers: [registry],
      collect() {
        for (const backend of pool.backends) this.set({ backend: backend.url }, circuitValue(backend.breaker.state));
      },
    });
    new Gauge({
      name: 'batchgate_inference_backend_pending',
      help: 'Calls in flight per inference backend (what least_loaded and power_of_two compare)',
      labelNames: ['backend'],
      registers: [registry],
      collect() {
        for (const backend of pool.backends) this.set({ backend: backend.url }, backend.pending);
      },
    });
    this.latency = new Histogram({
      name: 'batchgate_inference_backend_latency_seconds',
      help: 'One inference backend call, request sent to answer read (streams: to the last event)',
      labelNames: ['backend', 'kind'],
      buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    });
    this.calls = new Counter({
      name: 'batchgate_inference_backend_calls_total',
      help: 'Inference backend calls by outcome: ok, error_status (4xx answer), failure (5xx, 429, unreachable), timeout, circuit_open, cancelled',
      labelNames: ['backend', 'outcome'],
      registers: [registry],
    });
    this.retries = new Counter({
      name: 'batchgate_inference_batch_retries_total',
      help: 'Idempotent inference batches sent again to another backend after a failed call',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.batches = new Counter({
      name: 'batchgate_inference_batches_total',
      help: 'Inference batches a worker finished, by kind and result status (504 expired, 499 cancelled, 503 no backend)',
      labelNames: ['kind', 'status'],
      registers: [registry],
    });
  }
}
