/** Seed 004's token buckets: <=128, <=512, <=1024, <=2048, <=4096, larger. */
export const TOKEN_BUCKETS: readonly number[] = [128, 512, 1024, 2048, 4096];

/**
 * The upper bound of the bucket an item of `tokens` (prompt estimate +
 * max_tokens, seed 004's EstimatedTokens) falls in; 0 for larger than the
 * last. Items only share a batch within a bucket, so a long prompt does not
 * pad (or slow) a batch of short ones.
 */
export function tokenBucketOf(tokens: number): number {
  for (const bound of TOKEN_BUCKETS) if (tokens <= bound) return bound;
  return 0;
}
