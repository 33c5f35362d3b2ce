import { UpstreamCompletedSchema } from '#libs/contracts';
import type { EventPublisher } from '#libs/nats';
import { eventMeta } from '#libs/nats';
import type { BufferedResponse, HeaderList, OriginPool, ResultInit, TimedStream } from '#libs/upstream';
import type { Context, SpanContext } from '@opentelemetry/api';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { endHttpSpan, httpClientAttributes, tracerFor } from '#libs/tracing';
import { answerFrom, bodyPieces, isStreamed, UpstreamError, withTraceContext } from '#libs/upstream';
import type { BodyOutcome, BodyStreamLimits } from './body-stream.js';
import { BodyStream, DEFAULT_STREAM_LIMITS } from './body-stream.js';
import type { SlotRequest } from './local-slot.js';
import type { Answer, Waiter } from './waiter.js';
import { setsCookie } from './waiter.js';

const tracer = tracerFor('ingress');

/**
 * A worker's (or our own) result message as the answer waiters are served;
 * `producer` is the waiter whose request it was made with, if it is ours.
 */
export function toAnswer(result: ResultInit, body: Uint8Array | BodyStream, producer: Waiter | undefined, origin?: SpanContext): Answer {
  const headers: Answer['headers'] = (result.headers ?? []).map((h) => [h.name ?? '', h.value ?? '']);
  return {
    status: result.status ?? 502,
    headers,
    body: body instanceof BodyStream ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    scope: result.scope ?? '',
    private: result.private ?? false,
    vary: (result.vary ?? []).map((h) => [h.name ?? '', h.value ?? '']),
    setsCookie: setsCookie(headers),
    producer,
    origin,
  };
}

/** A fleet slot's call made by this ingress as its only member: recorded as a worker's call is. */
export interface FleetCall {
  slotId: string;
  /** The slot leader's trace context: the origin's parent, as the worker's span would be. */
  context: Context;
}

/**
 * Calls the origin from the ingress itself: the call of a fleet slot whose
 * only member is this ingress (recorded with upstream.completed, like a
 * worker's), the degraded path (fleet unreachable, or a flush or answer that
 * never came) and the call of a waiter that may not be served a shared
 * answer. Same answer rules as the worker.
 */
export class DirectCall {
  private readonly origin: URL;

  constructor(
    private readonly origins: OriginPool,
    private readonly upstream: string,
    private readonly events?: EventPublisher,
    private readonly source = 'ingress',
    private readonly streamLimits: BodyStreamLimits = DEFAULT_STREAM_LIMITS,
  ) {
    this.origin = new URL(upstream);
  }

  /**
   * The origin's answer to `request`, which carries `producer`'s headers (and
   * `scope`, its auth scope). A client span under the producer's server span
   * when it is recorded; the origin then hangs under that span (or, for a
   * fleet slot's call without one, under the slot leader's context). A large
   * or unknown-length body is not waited for: the answer's body is a stream.
   */
  async answer(request: SlotRequest, scope: string, producer: Waiter | undefined, fleet?: FleetCall): Promise<Answer> {
    const span = producer?.span.isRecording()
      ? tracer.startSpan(
          request.method,
          { kind: SpanKind.CLIENT, attributes: httpClientAttributes(request.method, this.origin, request.target) },
          trace.setSpan(ROOT_CONTEXT, producer.span),
        )
      : undefined;
    const headers: HeaderList = request.headers;
    let outcome: BufferedResponse | TimedStream | UpstreamError;
    try {
      const traced = span ? trace.setSpan(ROOT_CONTEXT, span) : fleet?.context;
      const sent = traced ? withTraceContext(headers, traced) : headers;
      outcome = await this.origins.fetchAnswer(this.upstream, request.method, request.target, sent);
    } catch (error) {
      outcome = error instanceof UpstreamError ? error : new UpstreamError('protocol', String(error));
    }
    if (span) endHttpSpan(span, outcome.status, 'client');
    const task = { slotId: fleet?.slotId ?? '', scope, requestHeaders: headers };
    if (!(outcome instanceof UpstreamError) && isStreamed(outcome)) {
      const body = new BodyStream(this.streamLimits);
      const result = answerFrom(task, { ...outcome, body: Buffer.alloc(0) });
      void pump(outcome, body).then((read) => fleet && this.record(fleet.slotId, result, outcome.latencyMs, read));
      return toAnswer(result, body, producer, span?.spanContext());
    }
    const result = answerFrom(task, outcome);
    if (fleet) this.record(fleet.slotId, result, outcome instanceof UpstreamError ? 0 : outcome.latencyMs);
    // The other waiters it answers link to this call, as to a worker's.
    return toAnswer(result, result.body ?? new Uint8Array(), producer, span?.spanContext());
  }

  /** The same upstream.completed a worker publishes (origin "" = the fleet's configured upstream). */
  private record(slotId: string, result: ResultInit, latencyMs: number, read?: BodyOutcome): void {
    this.events?.publish('upstream.completed', UpstreamCompletedSchema, {
      meta: eventMeta(this.source),
      slotId,
      status: result.status ?? 502,
      latencyMs,
      bytes: BigInt(read ? read.bytes : (result.body?.length ?? 0)),
      error: read && !read.ok ? read.reason : (result.error ?? ''),
      origin: '',
    });
  }
}

/** Moves a streamed origin body into `body` as it arrives; a failed read cuts it. */
async function pump(answer: TimedStream, body: BodyStream): Promise<BodyOutcome> {
  try {
    for await (const piece of bodyPieces(answer)) body.push(piece);
    body.end();
  } catch (error) {
    body.fail(error instanceof UpstreamError ? error.kind : 'protocol');
  }
  return body.done;
}
