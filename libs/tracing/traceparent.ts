import type { Context, Link, SpanContext } from '@opentelemetry/api';
import { isSpanContextValid, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { parseTraceParent } from '@opentelemetry/core';

/** The SDK's default span link count limit (SpanLimits.linkCountLimit): links past it are dropped. */
export const MAX_SPAN_LINKS = 128;

/**
 * A span context as a W3C `traceparent` value, for protobuf fields that name
 * a span other than the message's own sender (headers carry that one): ""
 * when `ctx` holds no valid span, so tracing off costs an empty field.
 */
export function traceparentOf(ctx: Context): string {
  const span = trace.getSpanContext(ctx);
  if (!span || !isSpanContextValid(span)) return '';
  return `00-${span.traceId}-${span.spanId}-${(span.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The span context a `traceparent` value names, undefined when it is empty or malformed. */
export function spanContextOf(traceparent: string): SpanContext | undefined {
  if (traceparent === '') return undefined;
  const parsed = parseTraceParent(traceparent);
  return parsed && isSpanContextValid(parsed) ? { ...parsed, isRemote: true } : undefined;
}

/** A context whose parent is the span `traceparent` names (ROOT when it names none). */
export function contextOf(traceparent: string): Context {
  const span = spanContextOf(traceparent);
  return span ? trace.setSpanContext(ROOT_CONTEXT, span) : ROOT_CONTEXT;
}

/** Span links to the spans `traceparents` name, one per distinct span, at most `max`. */
export function linksTo(traceparents: Iterable<string>, max = MAX_SPAN_LINKS): Link[] {
  const seen = new Set<string>();
  const links: Link[] = [];
  for (const traceparent of traceparents) {
    if (links.length >= max) break;
    if (seen.has(traceparent)) continue;
    seen.add(traceparent);
    const context = spanContextOf(traceparent);
    if (context) links.push({ context });
  }
  return links;
}
