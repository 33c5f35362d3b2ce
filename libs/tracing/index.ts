// Observability bootstrap shared by every service: the OpenTelemetry NodeSDK
// (OTLP export when an endpoint is configured, nothing otherwise) and the
// structured pino logger that stamps each line with the active trace id.
export { otlpTracesUrl, startTracing, stopTracing, tracerFor } from './tracing.js';
export type { TracingOptions } from './tracing.js';
export { createLogger } from './logger.js';
export type { Logger } from './logger.js';
