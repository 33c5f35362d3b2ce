import type { HeaderList, ResultInit, OriginPool } from '#libs/upstream';
import type { SpanContext } from '@opentelemetry/api';
import { answerFrom, UpstreamError } from '#libs/upstream';
import type { SlotRequest } from './local-slot.js';
import type { Answer, Waiter } from './waiter.js';
import { setsCookie } from './waiter.js';

/**
 * A worker's (or our own) result message as the answer waiters are served;
 * `producer` is the waiter whose request it was made with, if it is ours.
 */
export function toAnswer(result: ResultInit, body: Uint8Array, producer: Waiter | undefined, origin?: SpanContext): Answer {
  const headers: Answer['headers'] = (result.headers ?? []).map((h) => [h.name ?? '', h.value ?? '']);
  return {
    status: result.status ?? 502,
    headers,
    body: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    scope: result.scope ?? '',
    private: result.private ?? false,
    vary: (result.vary ?? []).map((h) => [h.name ?? '', h.value ?? '']),
    setsCookie: setsCookie(headers),
    producer,
    origin,
  };
}

/**
 * Calls the origin from the ingress itself: the degraded path (fleet
 * unreachable, or a flush or answer that never came) and the call of a waiter
 * that may not be served a shared answer. Same answer rules as the worker.
 */
export class DirectCall {
  constructor(
    private readonly origins: OriginPool,
    private readonly upstream: string,
  ) {}

  /** The origin's answer to `request`, which carries `producer`'s headers (and `scope`, its auth scope). */
  async answer(request: SlotRequest, scope: string, producer: Waiter | undefined): Promise<Answer> {
    const headers: HeaderList = request.headers;
    let outcome;
    try {
      outcome = await this.origins.fetchBuffered(this.upstream, request.method, request.target, headers);
    } catch (error) {
      outcome = error instanceof UpstreamError ? error : new UpstreamError('protocol', String(error));
    }
    const result = answerFrom({ slotId: '', scope, requestHeaders: headers }, outcome);
    return toAnswer(result, result.body ?? new Uint8Array(), producer);
  }
}
