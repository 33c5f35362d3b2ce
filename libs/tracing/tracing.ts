import type { Tracer } from '@opentelemetry/api';
import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface TracingOptions {
  service: string;
  instanceId: string;
  /** OTLP/HTTP base endpoint (OTEL_EXPORTER_OTLP_ENDPOINT); undefined = export nothing. */
  otlpEndpoint: string | undefined;
  /** Full OTLP/HTTP traces URL (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), used as-is; wins over otlpEndpoint. */
  otlpTracesEndpoint?: string | undefined;
  /** Extra processors, e.g. an in-memory exporter in tests. */
  spanProcessors?: SpanProcessor[];
}

const TRACES_PATH = '/v1/traces';

/**
 * Where spans are exported, or undefined for nowhere. The traces endpoint is
 * used as-is (OTel spec); the base endpoint gets "/v1/traces" appended to its
 * path, unless the path already ends in it (it is often set to the full URL).
 */
export function otlpTracesUrl(endpoint: string | undefined, tracesEndpoint?: string): string | undefined {
  if (tracesEndpoint) return tracesEndpoint;
  if (!endpoint) return undefined;
  const url = new URL(endpoint);
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = path.endsWith(TRACES_PATH) ? path : `${path}${TRACES_PATH}`;
  return url.href;
}

let sdk: NodeSDK | undefined;

/**
 * Starts the NodeSDK once per process (several services share a process in
 * tests; the first call wins). Without an endpoint and without extra
 * processors only the W3C propagator is installed: spans are no-ops and
 * incoming trace context is still passed on to the next hop.
 */
export function startTracing(options: TracingOptions): void {
  if (sdk) return;
  const processors = [...(options.spanProcessors ?? [])];
  const url = otlpTracesUrl(options.otlpEndpoint, options.otlpTracesEndpoint);
  if (processors.length === 0 && !url) {
    // Nothing to export: skip the SDK (its async-hooks context manager cost
    // ~8 % CPU on a busy service) but keep passing W3C trace context along.
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    return;
  }
  if (url) {
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url })));
  }
  sdk = new NodeSDK({
    serviceName: options.service,
    spanProcessors: processors,
    logRecordProcessors: [],
    instrumentations: [],
    autoDetectResources: false,
  });
  sdk.start();
}

export async function stopTracing(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  await running?.shutdown();
}

/** The tracer of one service; its name marks the service's spans in a shared process. */
export function tracerFor(service: string): Tracer {
  return trace.getTracer(`batchgate.${service}`);
}
