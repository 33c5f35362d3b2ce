/** Seed 000's bucket boundaries, kept so dashboards built on the seed still read right. */
export const FLUSH_SIZE_BUCKETS = [1, 5, 10, 20, 50, 100, 128];
export const FLUSH_AGE_BUCKETS_MS = [5, 10, 20, 30, 40, 50, 60];

/** 1-2.5-5 steps: few buckets per decade, readable le labels. */
const STEPS = [1, 2.5, 5];

/**
 * The seed's size buckets, then doubling up to the configured max batch size
 * and the max itself: the seed's stop at 128 while BATCHGATE_MAX_BATCH_SIZE
 * allows 100,000, and every larger flush fell into +Inf.
 */
export function flushSizeBuckets(maxBatchSize: number): number[] {
  const buckets = [...FLUSH_SIZE_BUCKETS];
  for (let bound = 256; bound < maxBatchSize; bound *= 2) buckets.push(bound);
  if (maxBatchSize > 128) buckets.push(maxBatchSize);
  return buckets;
}

/**
 * The seed's age buckets (ms), then 1-2.5-5 steps up to the configured batch
 * timeout and the timeout itself, which is where timeout flushes land (the
 * seed's stop at 60 ms while BATCHGATE_BATCH_TIMEOUT_MS allows 60 s).
 */
export function flushAgeBucketsMs(batchTimeoutMs: number): number[] {
  const buckets = [...FLUSH_AGE_BUCKETS_MS];
  for (let decade = 100; decade < batchTimeoutMs; decade *= 10) {
    for (const step of STEPS) if (step * decade < batchTimeoutMs) buckets.push(step * decade);
  }
  if (batchTimeoutMs > 60) {
    // Timeout flushes land just after the timeout (the next tick): one step above it catches them.
    buckets.push(batchTimeoutMs, nextStep(batchTimeoutMs));
  }
  return buckets;
}

/** The smallest 1-2.5-5 step above `ms`. */
function nextStep(ms: number): number {
  for (let decade = 1; ; decade *= 10) {
    for (const step of STEPS) if (step * decade > ms) return step * decade;
  }
}

/** flushAgeBucketsMs in seconds, for batchgate_batch_age_at_flush_seconds, with 1 and 2 ms below the seed's first. */
export function flushAgeBucketsSeconds(batchTimeoutMs: number): number[] {
  return [1, 2, ...flushAgeBucketsMs(batchTimeoutMs)].map((ms) => ms / 1000);
}

/** Client and upstream durations (seconds): 1 ms to 30 s, the range of our request timeouts. */
export const DURATION_BUCKETS_SECONDS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
