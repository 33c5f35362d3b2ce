import type { EnvReader, StrategySpec } from '#libs/config';
import { strategySection } from '#libs/config';

/** Flow B settings of the coordinator (README, "Inference batching"). */
export interface InferenceConfig {
  /** Distinct inputs per backend call (seed 004's max_batch_size 32). */
  maxBatchSize: number;
  /** Prompt + max_tokens of a batch's inputs (seed 004's max_batch_tokens 8192; TGI's max_batch_total_tokens). */
  maxBatchTokens: number;
  /** Batches of one model in flight at once (seed 004's 8 workers); chat admission by priority happens within it. */
  maxInflightPerModel: number;
  /** Strategy for every model until POST /admin/strategy/{name} changes one. */
  strategy: StrategySpec;
  /** A queue overdue by this much ranks one priority level higher (aging; 50 ms = normal's max wait). */
  agingMs: number;
  /** A batch with no result after this is answered 504 (bounded by its waiters' deadlines first). */
  resultTimeoutMs: number;
  /** Items queued per coordinator past which submits are refused queue_full. */
  maxQueued: number;
  /** Price of 1,000 tokens the backend did not have to process (USD; 0.00002 = OpenAI text-embedding-3-small). */
  pricePer1kTokens: number;
  /** Cosine threshold of near-duplicate embedding dedup; 0 = off (the default: a near duplicate gets another text's vector). */
  nearDuplicate: number;
  /** Bearer token for POST /admin/strategy on this operator port; unset disables it. */
  adminToken: string | undefined;
}

export function inferenceSection(r: EnvReader): { inference: InferenceConfig } {
  return {
    inference: {
      maxBatchSize: r.int('BATCHGATE_INFERENCE_MAX_BATCH_SIZE', 32, { min: 1, max: 2048 }),
      maxBatchTokens: r.int('BATCHGATE_INFERENCE_MAX_BATCH_TOKENS', 8192, { min: 1, max: 10_000_000 }),
      maxInflightPerModel: r.int('BATCHGATE_INFERENCE_MAX_INFLIGHT', 8, { min: 1, max: 10_000 }),
      // Seed 004's queue_depth with the Go repo's thresholds (8/80); the max wait is the priority's.
      strategy: strategySection(r, 'BATCHGATE_INFERENCE_STRATEGY', 'queue_depth:low=8,high=80,min_wait_ms=1'),
      agingMs: r.int('BATCHGATE_INFERENCE_AGING_MS', 50, { min: 1, max: 60_000 }),
      resultTimeoutMs: r.int('BATCHGATE_INFERENCE_RESULT_TIMEOUT_MS', 60_000, { min: 10, max: 600_000 }),
      maxQueued: r.int('BATCHGATE_INFERENCE_MAX_QUEUED', 10_000, { min: 1, max: 10_000_000 }),
      pricePer1kTokens: r.number('BATCHGATE_INFERENCE_PRICE_PER_1K_TOKENS', 0.00002, { min: 0, max: 1000 }),
      nearDuplicate: r.bool('BATCHGATE_INFERENCE_NEAR_DEDUP', false)
        ? r.number('BATCHGATE_INFERENCE_NEAR_DEDUP_THRESHOLD', 0.98, { min: 0.5, max: 1 })
        : 0,
      adminToken: r.optionalString('BATCHGATE_ADMIN_TOKEN'),
    },
  };
}
