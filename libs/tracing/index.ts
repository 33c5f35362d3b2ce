// Observability bootstrap shared by every service: the OpenTelemetry NodeSDK
// (OTLP export when an endpoint is configured, nothing otherwise), the
// semantic-convention attributes of our HTTP and NATS spans, and the
// structured pino logger that stamps each line with the active trace id.
export { batchgateVersion, otlpTracesUrl, startTracing, stopTracing, tracerFor, tracingRecords } from './tracing.js';
export type { TracingOptions } from './tracing.js';
export {
  endHttpSpan,
  hostAndPort,
  httpClientAttributes,
  httpServerAttributes,
  messagingAttributes,
  nameServerSpan,
  nameServerSpanAfter,
  routeTemplate,
  splitTarget,
  startServerSpan,
} from './semconv.js';
export { contextOf, linksTo, MAX_SPAN_LINKS, spanContextOf, traceparentOf } from './traceparent.js';
export type { MessagingOperation, ServerRequest } from './semconv.js';
export { createLogger } from './logger.js';
export type { Logger } from './logger.js';
