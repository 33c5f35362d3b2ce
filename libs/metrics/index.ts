// Prometheus metrics: one registry per service (several services can share a
// process in tests) with the process metrics included, the seed's flush
// metrics by the seed's names, and buckets that reach the configured envelope.
export { createRegistry, flushMetrics } from './registry.js';
export type { BucketEnvelope, FlushMetrics } from './registry.js';
export {
  DURATION_BUCKETS_SECONDS,
  FLUSH_AGE_BUCKETS_MS,
  FLUSH_SIZE_BUCKETS,
  flushAgeBucketsMs,
  flushAgeBucketsSeconds,
  flushSizeBuckets,
} from './buckets.js';
export { Counter, Gauge, Histogram, Registry } from 'prom-client';
