import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { flushAgeBucketsMs, flushAgeBucketsSeconds, flushSizeBuckets } from './buckets.js';

/** A fresh registry with the Node process metrics (CPU, memory, event-loop lag, GC). */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  return registry;
}

export interface FlushMetrics {
  flushTotal: Counter<'reason'>;
  sizeAtFlush: Histogram<'reason'>;
  /** Deprecated (ms, not a base unit): ageAtFlushSeconds replaces it; kept for one release. */
  ageAtFlush: Histogram<'reason'>;
  ageAtFlushSeconds: Histogram<'reason'>;
  activeSlots: Gauge;
}

/** The envelope the buckets must cover (BATCHGATE_BATCH_TIMEOUT_MS, BATCHGATE_MAX_BATCH_SIZE). */
export interface BucketEnvelope {
  batchTimeoutMs: number;
  maxBatchSize: number;
}

/** The seed's defaults (50 ms, 128). */
const SEED_ENVELOPE: BucketEnvelope = { batchTimeoutMs: 50, maxBatchSize: 128 };

/**
 * The seed's four metrics, by their seed names, plus the age in seconds by
 * Prometheus conventions; buckets reach the configured envelope.
 */
export function flushMetrics(registry: Registry, envelope: BucketEnvelope = SEED_ENVELOPE): FlushMetrics {
  return {
    flushTotal: new Counter({
      name: 'batch_flush_total',
      help: 'Slot flushes by reason (policy, timeout, size_cap, fallback)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    sizeAtFlush: new Histogram({
      name: 'batch_size_at_flush',
      help: 'Requests coalesced per upstream call',
      labelNames: ['reason'],
      buckets: flushSizeBuckets(envelope.maxBatchSize),
      registers: [registry],
    }),
    ageAtFlush: new Histogram({
      name: 'batch_age_ms_at_flush',
      help: 'Deprecated, use batchgate_batch_age_at_flush_seconds: slot age in ms when flushed',
      labelNames: ['reason'],
      buckets: flushAgeBucketsMs(envelope.batchTimeoutMs),
      registers: [registry],
    }),
    ageAtFlushSeconds: new Histogram({
      name: 'batchgate_batch_age_at_flush_seconds',
      help: 'Slot age when flushed',
      labelNames: ['reason'],
      buckets: flushAgeBucketsSeconds(envelope.batchTimeoutMs),
      registers: [registry],
    }),
    activeSlots: new Gauge({
      name: 'active_batch_slots',
      help: 'Slots currently open',
      registers: [registry],
    }),
  };
}
