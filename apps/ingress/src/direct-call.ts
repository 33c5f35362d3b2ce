import type { HeaderList, ResultInit, OriginPool } from '#libs/upstream';
import type { SpanContext } from '@opentelemetry/api';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { endHttpSpan, httpClientAttributes, tracerFor } from '#libs/tracing';
import { answerFrom, UpstreamError, withTraceContext } from '#libs/upstream';
import type { SlotRequest } from './local-slot.js';
import type { Answer, Waiter } from './waiter.js';
import { setsCookie } from './waiter.js';

const tracer = tracerFor('ingress');

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
  private readonly origin: URL;

  constructor(
    private readonly origins: OriginPool,
    private readonly upstream: string,
  ) {
    this.origin = new URL(upstream);
  }

  /**
   * The origin's answer to `request`, which carries `producer`'s headers (and
   * `scope`, its auth scope). A client span under the producer's server span
   * when it is recorded; the origin then hangs under that span.
   */
  async answer(request: SlotRequest, scope: string, producer: Waiter | undefined): Promise<Answer> {
    const span = producer?.span.isRecording()
      ? tracer.startSpan(
          request.method,
          { kind: SpanKind.CLIENT, attributes: httpClientAttributes(request.method, this.origin, request.target) },
          trace.setSpan(ROOT_CONTEXT, producer.span),
        )
      : undefined;
    const headers: HeaderList = span ? withTraceContext(request.headers, trace.setSpan(ROOT_CONTEXT, span)) : request.headers;
    let outcome;
    try {
      outcome = await this.origins.fetchBuffered(this.upstream, request.method, request.target, headers);
    } catch (error) {
      outcome = error instanceof UpstreamError ? error : new UpstreamError('protocol', String(error));
    }
    if (span) endHttpSpan(span, outcome.status, 'client');
    const result = answerFrom({ slotId: '', scope, requestHeaders: headers }, outcome);
    // The other waiters it answers link to this call, as to a worker's.
    return toAnswer(result, result.body ?? new Uint8Array(), producer, span?.spanContext());
  }
}
