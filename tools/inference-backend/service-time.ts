import type { Random } from '#libs/sim';
import { normal } from '#libs/sim';

/**
 * The Go repo's mock upstream (briankim06 simulation/mock_upstream.go, FACTS.md section 4):
 * ms = base + perToken*totalTokens + perMaxToken*maxTokensInBatch + perItem*batchSize
 *      + N(0,1)*base*variance, at least 1 ms; failureRate of calls answer 503.
 * Defaults are the repo's (base 8, perToken 0, perMaxToken 0.015, perItem 0.8,
 * variance 0.1, failureRate 0), not the spec's (10, 0.5, 0.1), because the
 * repo's recorded results table is the bar the benchmark is held to.
 */
export interface ServiceTimeParams {
  baseMs: number;
  perTokenMs: number;
  perMaxTokenMs: number;
  perItemMs: number;
  variance: number;
  failureRate: number;
}

export const GO_MOCK_DEFAULTS: ServiceTimeParams = {
  baseMs: 8,
  perTokenMs: 0,
  perMaxTokenMs: 0.015,
  perItemMs: 0.8,
  variance: 0.1,
  failureRate: 0,
};

/** What the model reads from one backend call. */
export interface CallShape {
  /** Inputs in the call (embedding inputs, prompts, or 1 for a chat request). */
  items: number;
  /** Sum over inputs of prompt tokens + max_tokens (the seed's estimated tokens). */
  totalTokens: number;
  /** The largest single input's prompt tokens + max_tokens: the padded length of the batch. */
  maxTokens: number;
}

export function serviceTimeMs(shape: CallShape, p: ServiceTimeParams, random: Random): number {
  const ms =
    p.baseMs +
    p.perTokenMs * shape.totalTokens +
    p.perMaxTokenMs * shape.maxTokens +
    p.perItemMs * shape.items +
    normal(random) * p.baseMs * p.variance;
  return Math.max(1, ms);
}

/** True when this call should fail (drawn once per call, like the mock's failureRate). */
export function callFails(p: ServiceTimeParams, random: Random): boolean {
  return p.failureRate > 0 && random() < p.failureRate;
}

/**
 * Tokens of a text by the seed's estimate (Go repo: len(prompt)/4), at least 1
 * for a non-empty text; named an estimate because no tokenizer runs here.
 */
export function estimateTokens(text: string): number {
  if (text.length === 0) return 0;
  return Math.max(1, Math.floor(text.length / 4));
}
