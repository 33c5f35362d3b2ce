// Prometheus metrics: one registry per service (several services can share a
// process in tests) with the process metrics included, and the seed's
// flush metrics with the seed's bucket boundaries.
export { createRegistry, flushMetrics, FLUSH_AGE_BUCKETS_MS, FLUSH_SIZE_BUCKETS } from './registry.js';
export type { FlushMetrics } from './registry.js';
export { Counter, Gauge, Histogram, Registry } from 'prom-client';
