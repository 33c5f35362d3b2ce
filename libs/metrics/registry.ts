import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** A fresh registry with the Node process metrics (CPU, memory, event-loop lag, GC). */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  return registry;
}

/** Seed 000's bucket boundaries, kept so dashboards built on the seed still read right. */
export const FLUSH_SIZE_BUCKETS = [1, 5, 10, 20, 50, 100, 128];
export const FLUSH_AGE_BUCKETS_MS = [5, 10, 20, 30, 40, 50, 60];

export interface FlushMetrics {
  flushTotal: Counter<'reason'>;
  sizeAtFlush: Histogram<'reason'>;
  ageAtFlush: Histogram<'reason'>;
  activeSlots: Gauge;
}

/** The seed's four metrics, by their seed names, on `registry`. */
export function flushMetrics(registry: Registry): FlushMetrics {
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
      buckets: FLUSH_SIZE_BUCKETS,
      registers: [registry],
    }),
    ageAtFlush: new Histogram({
      name: 'batch_age_ms_at_flush',
      help: 'Slot age in ms when flushed',
      labelNames: ['reason'],
      buckets: FLUSH_AGE_BUCKETS_MS,
      registers: [registry],
    }),
    activeSlots: new Gauge({
      name: 'active_batch_slots',
      help: 'Slots currently open',
      registers: [registry],
    }),
  };
}
