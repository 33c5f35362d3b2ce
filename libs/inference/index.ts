// Flow B's shared vocabulary: priorities and their max waits, token buckets and
// dedup keys. The ingress computes them for each item and the coordinator
// batches by them, so both read one definition.
export { agedRank, PRIORITY_MAX_WAIT_MS, PRIORITY_NAMES, parsePriority, priorityName } from './priority.js';
export type { PriorityName } from './priority.js';
export { kindName } from './kind.js';
export { TOKEN_BUCKETS, tokenBucketOf } from './buckets.js';
export { canonicalJson, dedupKeyOf, isDeterministic, partitionOfModel } from './dedup.js';
export { cosine, textVector } from './near-duplicate.js';
