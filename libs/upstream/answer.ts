import type { MessageInitShape } from '#libs/contracts';
import type { FetchResultSchema } from '#libs/contracts';
import { errorAnswer, UpstreamError } from './errors.js';
import type { HeaderList } from './headers.js';
import type { BufferedResponse } from './origin-pool.js';
import { isPrivateAnswer, responseVaryNames, varyValues } from './sharing.js';

export type ResultInit = MessageInitShape<typeof FetchResultSchema>;

/**
 * The answer for every waiter of a slot, from the origin's response or its
 * failure. It records what the ingress needs to decide who may be served it:
 * the scope of the replayed request, whether the answer is private, the
 * request header values its Vary names, and which ingress holds the request
 * it was made for (the slot's opener).
 */
export function answerFrom(
  task: { slotId: string; scope: string; requestHeaders: HeaderList; producerIngressId?: string },
  outcome: BufferedResponse | UpstreamError,
): ResultInit {
  const { requestHeaders } = task;
  if (outcome instanceof UpstreamError) {
    const answer = errorAnswer(outcome);
    return {
      slotId: task.slotId,
      status: answer.status,
      headers: answer.headers.map(([name, value]) => ({ name, value })),
      body: answer.body,
      scope: task.scope,
      error: outcome.kind,
      producerIngressId: task.producerIngressId ?? '',
    };
  }
  return {
    slotId: task.slotId,
    status: outcome.status,
    headers: outcome.headers.map(([name, value]) => ({ name, value })),
    body: outcome.body,
    scope: task.scope,
    private: isPrivateAnswer(outcome.headers),
    vary: varyValues(requestHeaders, responseVaryNames(outcome.headers)).map(([name, value]) => ({ name, value })),
    upstreamMs: outcome.latencyMs,
    producerIngressId: task.producerIngressId ?? '',
  };
}
