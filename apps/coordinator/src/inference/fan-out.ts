import type { InferBatchFlushedSchema, InferBatchResult, InferBatchSchema, InferItemResultSchema, MessageInitShape } from '#libs/contracts';
import { MAX_SPAN_LINKS } from '#libs/tracing';
import type { BatchInput, InferFlushReason, QueuedItem, QueueShape } from './infer-queue.js';

export type ItemResult = MessageInitShape<typeof InferItemResultSchema>;

/** Groups item results by the ingress holding each client, the unit InferResults travels in. */
export function byIngress(entries: ReadonlyArray<{ item: QueuedItem; result: ItemResult }>): Map<string, ItemResult[]> {
  const out = new Map<string, ItemResult[]>();
  for (const { item, result } of entries) {
    const list = out.get(item.ingressId);
    if (list) list.push(result);
    else out.set(item.ingressId, [result]);
  }
  return out;
}

/**
 * Upper bound of one item's bytes in an InferResults message besides its
 * strings: the numeric fields (at most 10 bytes each with tag), the strings'
 * tags and lengths, and the item's own tag and length.
 */
const ITEM_FIXED_BYTES = 96;

function itemBytes(result: ItemResult): number {
  const strings = [result.itemId, result.error, result.batchId, result.responseId, result.responseModel];
  return ITEM_FIXED_BYTES + (result.outputJson?.length ?? 0) + strings.reduce((sum, s) => sum + (s?.length ?? 0) * 3, 0);
}

/**
 * One ingress's results in messages of at most `limit` bytes each, in order,
 * so an answer above max_payload that is made of many items (many clients, or
 * many dedup waiters of one input) goes as a few plain messages: an Object
 * Store round trip costs far more (2.3 MB: put ~70 ms + get ~70-100 ms on the
 * loaded 2-core test box, against a few ms for three messages). Sizes are
 * upper bounds, so no item is encoded twice; an item above `limit` on its own
 * goes alone (and then by reference).
 */
export function packed(results: readonly ItemResult[], limit: number): ItemResult[][] {
  const packs: ItemResult[][] = [];
  let pack: ItemResult[] = [];
  let bytes = 0;
  for (const result of results) {
    const size = itemBytes(result);
    if (pack.length > 0 && bytes + size > limit) {
      packs.push(pack);
      pack = [];
      bytes = 0;
    }
    pack.push(result);
    bytes += size;
  }
  if (pack.length > 0) packs.push(pack);
  return packs;
}

/**
 * Every waiter's answer from one batch result: outputs[i] answers inputs[i]
 * and each of its waiters (the first is the item that brought the input; the
 * rest are dedup hits). A whole-batch error answers every waiter with it.
 */
export function resultsOf(
  batchId: string,
  inputs: readonly BatchInput[],
  result: InferBatchResult,
): Array<{ item: QueuedItem; result: ItemResult }> {
  const entries: Array<{ item: QueuedItem; result: ItemResult }> = [];
  const meta = {
    batchId,
    batchSize: inputs.length,
    responseId: result.responseId,
    createdS: result.createdS,
    responseModel: result.responseModel,
  };
  inputs.forEach((input, i) => {
    const output = result.outputs[i];
    input.waiters.forEach((item, w) => {
      const answer: ItemResult =
        result.error !== '' || !output
          ? { itemId: item.itemId, status: result.status || 502, error: result.error || 'the backend gave no answer for this input' }
          : {
              itemId: item.itemId,
              status: output.status,
              outputJson: output.outputJson,
              error: output.error,
              promptTokens: output.promptTokens,
              completionTokens: output.completionTokens,
            };
      entries.push({ item, result: { ...meta, ...answer, deduplicated: w > 0 } });
    });
  });
  return entries;
}

/** An answer given without a backend call (deadline passed, no worker, shutting down). */
export function refusalOf(item: QueuedItem, status: number, error: string): { item: QueuedItem; result: ItemResult } {
  return { item, result: { itemId: item.itemId, status, error } };
}

/** Dedup savings: every waiter past an input's first avoided that input's tokens (prompt + max_tokens). */
export function savingsOf(inputs: readonly BatchInput[], maxTokens: number): { items: number; tokens: number } {
  let items = 0;
  let tokens = 0;
  for (const input of inputs) {
    const extra = Math.max(0, input.waiters.length - 1);
    items += extra;
    tokens += extra * (input.promptTokens + maxTokens);
  }
  return { items, tokens };
}

/** The batch.flushed event of a batch. */
export function flushedEventOf(
  batchId: string,
  shape: QueueShape,
  inputs: readonly BatchInput[],
  at: { meta: { id: string; atMs: number; source: string }; reason: InferFlushReason; strategy: string; ageMs: number; tokens: number },
): MessageInitShape<typeof InferBatchFlushedSchema> {
  return {
    meta: at.meta,
    batchId,
    kind: shape.kind,
    model: shape.model,
    priority: shape.priority,
    reason: at.reason,
    items: inputs.reduce((sum, input) => sum + input.waiters.length, 0),
    inputs: inputs.length,
    tokens: at.tokens,
    strategy: at.strategy,
    ageMs: at.ageMs,
    tokenBucket: shape.bucket,
  };
}

/** The InferBatch for the workers: distinct inputs in backend order; a stream's chunks go straight to its waiters. */
export function batchOf(
  batchId: string,
  shape: QueueShape,
  inputs: readonly BatchInput[],
  at: { reason: InferFlushReason; deadlineAtMs: number; coordinatorId: string },
): MessageInitShape<typeof InferBatchSchema> {
  return {
    batchId,
    kind: shape.kind,
    model: shape.model,
    priority: shape.priority,
    paramsJson: shape.paramsJson,
    inputs: inputs.map((input) => ({ inputJson: input.inputJson, promptTokens: input.promptTokens })),
    deadlineAtMs: at.deadlineAtMs,
    coordinatorId: at.coordinatorId,
    stream: shape.stream,
    streamTargets: shape.stream ? inputs.flatMap((input) => input.waiters.map((w) => ({ itemId: w.itemId, ingressId: w.ingressId }))) : [],
    reason: at.reason,
    requestTraceparents: requestTraceparentsOf(inputs),
  };
}

/**
 * The client requests a batch answers, as W3C traceparents, each once (a
 * request's items share one) and no more than a span can link to: the
 * worker's backend call links to every one.
 */
export function requestTraceparentsOf(inputs: readonly BatchInput[]): string[] {
  const traceparents = new Set<string>();
  for (const input of inputs) {
    for (const waiter of input.waiters) {
      if (traceparents.size >= MAX_SPAN_LINKS) return [...traceparents];
      if (waiter.traceparent) traceparents.add(waiter.traceparent);
    }
  }
  return [...traceparents];
}
