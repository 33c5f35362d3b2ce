import type { Context, TextMapSetter } from '@opentelemetry/api';
import { propagation } from '@opentelemetry/api';
import type { HeaderList } from './headers.js';

const TRACE_FIELDS = new Set(['traceparent', 'tracestate']);

const setter: TextMapSetter<HeaderList> = {
  set: (carrier, key, value) => void carrier.push([key.toLowerCase(), value]),
};

/**
 * Request headers for the origin with the W3C trace context of `ctx` (the
 * span making the call) in place of the client's, so the origin's spans hang
 * under ours. When `ctx` holds no valid span, or no propagator is installed,
 * nothing would be injected: the client's fields are then kept as they are,
 * so the trace is at least passed along rather than dropped.
 */
export function withTraceContext(headers: HeaderList, ctx: Context): HeaderList {
  const injected: HeaderList = [];
  propagation.inject(ctx, injected, setter);
  if (!injected.some(([name]) => name === 'traceparent')) return headers;
  return [...headers.filter(([name]) => !TRACE_FIELDS.has(name)), ...injected];
}
