import type { Registry } from '#libs/metrics';
import { Counter, Gauge, Histogram } from '#libs/metrics';

/** Flow B metrics of one coordinator (base units, `batchgate_` prefix). */
export class InferMetrics {
  readonly latency: Histogram<'priority'>;
  readonly batchSize: Histogram<'kind'>;
  readonly batchTokens: Histogram<'kind'>;
  readonly flushes: Counter<'reason'>;
  readonly dedupHits: Counter<'match'>;
  readonly shed: Counter<'reason'>;
  readonly itemsSaved: Counter;
  readonly tokensSaved: Counter;
  readonly costSaved: Counter;

  constructor(registry: Registry, queueDepth: () => number, inflight: () => number) {
    const registers = [registry];
    this.latency = new Histogram({
      name: 'batchgate_inference_item_latency_seconds',
      help: 'Arrival at the coordinator to result fanned out, per item, by priority',
      labelNames: ['priority'],
      // 1 ms to 8 s: critical's 5 ms budget and long completions both land inside.
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 4, 8],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'batchgate_inference_batch_size',
      help: 'Distinct backend inputs per batch at flush',
      labelNames: ['kind'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    });
    this.batchTokens = new Histogram({
      name: 'batchgate_inference_batch_tokens',
      help: 'Estimated tokens (prompt + max_tokens) per batch at flush',
      labelNames: ['kind'],
      buckets: [64, 128, 512, 1024, 2048, 4096, 8192, 16384],
      registers,
    });
    this.flushes = new Counter({
      name: 'batchgate_inference_flush_total',
      help: 'Inference batches by flush reason',
      labelNames: ['reason'],
      registers,
    });
    this.dedupHits = new Counter({
      name: 'batchgate_inference_dedup_hits_total',
      help: 'Items answered by another item’s backend input (match: exact | in_flight | near)',
      labelNames: ['match'],
      registers,
    });
    this.shed = new Counter({
      name: 'batchgate_inference_shed_total',
      help: 'Items answered without a backend call, by reason (deadline | queue_full | no_worker | shutting_down)',
      labelNames: ['reason'],
      registers,
    });
    this.itemsSaved = new Counter({ name: 'batchgate_inference_items_saved_total', help: 'Backend inputs avoided by dedup', registers });
    this.tokensSaved = new Counter({
      name: 'batchgate_inference_tokens_saved_total',
      help: 'Estimated tokens avoided by dedup',
      registers,
    });
    this.costSaved = new Counter({
      name: 'batchgate_inference_cost_saved_usd_total',
      help: 'Tokens avoided x BATCHGATE_INFERENCE_PRICE_PER_1K_TOKENS',
      registers,
    });
    new Gauge({
      name: 'batchgate_inference_queue_depth',
      help: 'Items queued at this coordinator',
      registers,
      collect() {
        this.set(queueDepth());
      },
    });
    new Gauge({
      name: 'batchgate_inference_batches_in_flight',
      help: 'Batches dispatched and not answered',
      registers,
      collect() {
        this.set(inflight());
      },
    });
  }
}
