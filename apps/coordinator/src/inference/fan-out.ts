import type { InferBatchResult, InferItemResultSchema, MessageInitShape } from '#libs/contracts';
import type { BatchInput, QueuedItem } from './infer-queue.js';

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
