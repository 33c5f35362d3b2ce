import type { Context, Span } from '@opentelemetry/api';
import { SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import { messagingAttributes, tracerFor, tracingRecords } from '#libs/tracing';

const tracer = tracerFor('nats');

/**
 * Whether a message in `ctx` gets spans of its own: only when this process
 * records spans and the message belongs to a sampled trace. Everything else
 * (tracing off, events published outside any request) costs no span and no
 * allocation per message.
 */
function traced(ctx: Context): boolean {
  if (!tracingRecords()) return false;
  const parent = trace.getSpanContext(ctx);
  return parent !== undefined && (parent.traceFlags & TraceFlags.SAMPLED) !== 0;
}

/** A PRODUCER span for a message sent to `subject` (publish or request), or undefined when the message is not traced. */
export function sendSpan(subject: string, ctx: Context): Span | undefined {
  if (!traced(ctx)) return undefined;
  return tracer.startSpan(`send ${subject}`, { kind: SpanKind.PRODUCER, attributes: messagingAttributes('send', subject) }, ctx);
}

/** A CONSUMER span for handling a message received on `subject`, child of its sender's span. */
export function processSpan(subject: string, ctx: Context, queue: string | undefined): Span | undefined {
  if (!traced(ctx)) return undefined;
  return tracer.startSpan(
    `process ${subject}`,
    { kind: SpanKind.CONSUMER, attributes: messagingAttributes('process', subject, queue) },
    ctx,
  );
}
