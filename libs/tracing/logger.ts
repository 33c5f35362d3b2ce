import { trace } from '@opentelemetry/api';
import type { Logger as PinoLogger } from 'pino';
import { pino } from 'pino';

export type Logger = PinoLogger;

/** trace_id and span_id of the active span, for every log line written inside one (none outside). */
export function traceMixin(): object {
  const span = trace.getActiveSpan()?.spanContext();
  return span && trace.isSpanContextValid(span) ? { trace_id: span.traceId, span_id: span.spanId } : {};
}

/** Structured JSON logs with service, instance and (when a span is active) trace ids. */
export function createLogger(service: string, instanceId: string, level: string): Logger {
  return pino({ level, base: { service, instance: instanceId }, mixin: traceMixin });
}
