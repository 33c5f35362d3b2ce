import { startTracing, stopTracing } from '#libs/tracing';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get } from './support/client.js';
import { TestFleet } from './support/fleet.js';

describe('end-to-end tracing', () => {
  const exporter = new InMemorySpanExporter();
  let fleet: TestFleet;

  beforeAll(async () => {
    startTracing({ service: 'test', instanceId: 'test', otlpEndpoint: undefined, spanProcessors: [new SimpleSpanProcessor(exporter)] });
    fleet = await TestFleet.start({ env: { BATCHGATE_POLICY_STRATEGY: 'fixed_timer:window_ms=10', BATCHGATE_BATCH_TIMEOUT_MS: '100' } });
  });

  afterAll(async () => {
    await fleet.stop();
    await stopTracing();
  });

  it('one coalesced request is one trace across ingress, coordinator, policy and worker', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const reply = await get(`${fleet.ingressUrl()}/traced`, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    expect(reply.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const spans = exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
    const byService = (service: string) =>
      spans.filter((span) => span.instrumentationScope.name === `batchgate.${service}`).map((span) => span.name);
    expect(byService('ingress')).toContain('ingress.request');
    expect(byService('coordinator')).toEqual(expect.arrayContaining(['coordinator.join', 'coordinator.decide', 'coordinator.flush']));
    expect(byService('policy')).toContain('policy.decide');
    expect(byService('worker')).toContain('worker.upstream');
    // Parentage: the worker's upstream span hangs under the coordinator's flush, which hangs under the join.
    const find = (name: string) => spans.find((span) => span.name === name)!;
    expect(find('worker.upstream').parentSpanContext?.spanId).toBe(find('coordinator.flush').spanContext().spanId);
    expect(find('coordinator.flush').parentSpanContext?.spanId).toBe(find('coordinator.join').spanContext().spanId);
    expect(find('coordinator.join').parentSpanContext?.spanId).toBe(find('ingress.request').spanContext().spanId);
    expect(find('ingress.request').parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    // The origin saw the same trace.
    expect(fleet.origin.callsTo('/traced')[0]!.headers.traceparent).toContain(traceId);
  });
});
