import { readFileSync } from 'node:fs';
import type { ContextManager, Tracer } from '@opentelemetry/api';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

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

/** The version in batchgate's package.json (service.version), found from this file in source and in dist alike. */
export function batchgateVersion(): string {
  for (let dir = new URL('.', import.meta.url); dir.pathname !== '/'; dir = new URL('..', dir)) {
    try {
      const manifest = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'batchgate' && manifest.version) return manifest.version;
    } catch {
      // no package.json at this level: look one up
    }
  }
  return 'unknown';
}

let sdk: NodeSDK | undefined;
let contextReady = false;
let recording = false;

/**
 * Whether spans are recorded in this process. Callers on a hot path (the bus)
 * check it before starting spans of their own, so tracing off costs nothing
 * per message.
 */
export function tracingRecords(): boolean {
  return recording;
}

/**
 * Starts tracing once per process (several services share a process in tests;
 * the first call wins). The W3C propagator and an AsyncLocalStorage context
 * manager are always installed, so trace context travels to the next hop and
 * every log line written inside a request carries its trace id, exporter or
 * not (on Node 24 AsyncLocalStorage runs on AsyncContextFrame, without the
 * async-hooks cost that once made us skip it). The NodeSDK, which records
 * spans, starts only with somewhere to send them. Its resource carries
 * service.name, service.instance.id and service.version; the environment
 * detectors stay on, so OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME win.
 */
export function startTracing(options: TracingOptions): void {
  if (!contextReady) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    contextReady = true;
  }
  if (sdk) return;
  const processors = [...(options.spanProcessors ?? [])];
  const url = otlpTracesUrl(options.otlpEndpoint, options.otlpTracesEndpoint);
  if (processors.length === 0 && !url) return;
  if (url) processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url })));
  sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: `batchgate-${options.service}`,
      [ATTR_SERVICE_INSTANCE_ID]: options.instanceId,
      [ATTR_SERVICE_VERSION]: batchgateVersion(),
    }),
    // null: keep the manager installed above (sdk-node documents null, its typings omit it).
    contextManager: null as unknown as ContextManager,
    spanProcessors: processors,
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  recording = true;
}

export async function stopTracing(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  recording = false;
  await running?.shutdown();
}

/** The tracer of one service; its name marks the service's spans in a shared process. */
export function tracerFor(service: string): Tracer {
  return trace.getTracer(`batchgate.${service}`);
}
