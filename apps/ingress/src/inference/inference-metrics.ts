import type { Registry } from '#libs/metrics';
import { Counter, Histogram } from '#libs/metrics';

/** Flow B metrics seen from the client side (base units, `batchgate_` prefix). */
export class InferenceMetrics {
  readonly latency: Histogram<'priority' | 'kind'>;
  readonly rejected: Counter<'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.latency = new Histogram({
      name: 'batchgate_inference_request_duration_seconds',
      help: 'Client inference requests, arrival to answer, by priority and kind',
      labelNames: ['priority', 'kind'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 4, 8],
      registers,
    });
    this.rejected = new Counter({
      name: 'batchgate_inference_rejected_total',
      help: 'Inference requests answered without a backend call at the ingress, by reason',
      labelNames: ['reason'],
      registers,
    });
  }
}
