import { startTracing, stopTracing } from '#libs/tracing';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burstAgent, get } from './support/client.js';
import { TestFleet } from './support/fleet.js';

/** A W3C traceparent's trace id and parent span id (undefined fields when it is missing or malformed). */
function parseTraceparent(value: string | string[] | undefined): { traceId?: string; parentId?: string } {
  const match = typeof value === 'string' ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(value) : null;
  return { traceId: match?.[1], parentId: match?.[2] };
}

describe('end-to-end tracing', () => {
  const exporter = new InMemorySpanExporter();
  let fleet: TestFleet;

  beforeAll(async () => {
    startTracing({ service: 'test', instanceId: 'test', otlpEndpoint: undefined, spanProcessors: [new SimpleSpanProcessor(exporter)] });
    // Through a worker: with one ingress the slot's only member would call the origin itself (no worker span).
    fleet = await TestFleet.start({
      env: {
        BATCHGATE_POLICY_STRATEGY: 'fixed_timer:window_ms=10',
        BATCHGATE_BATCH_TIMEOUT_MS: '100',
        BATCHGATE_SOLE_MEMBER_CALLS: 'worker',
      },
    });
  });

  afterAll(async () => {
    await fleet.stop();
    await stopTracing();
  });

  /** The finished spans of a trace, once every one of `names` is among them (spans end asynchronously after the reply). */
  async function traceOnceFinished(traceId: string, names: string[]): Promise<ReadableSpan[]> {
    const until = Date.now() + 5000;
    for (;;) {
      const spans = exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
      const missing = names.filter((name) => !spans.some((span) => span.name === name));
      if (missing.length === 0) return spans;
      if (Date.now() > until) throw new Error(`trace ${traceId} has no finished ${missing.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('one coalesced request is one trace across ingress, coordinator, policy and worker', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const reply = await get(`${fleet.ingressUrl()}/traced`, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    expect(reply.status).toBe(200);
    const spans = await traceOnceFinished(traceId, [
      'GET /*',
      'coordinator.join',
      'coordinator.decide',
      'coordinator.flush',
      'policy.decide',
      'GET',
    ]);
    const byService = (service: string) =>
      spans.filter((span) => span.instrumentationScope.name === `batchgate.${service}`).map((span) => span.name);
    expect(byService('ingress')).toContain('GET /*');
    expect(byService('coordinator')).toEqual(expect.arrayContaining(['coordinator.join', 'coordinator.decide', 'coordinator.flush']));
    expect(byService('policy')).toContain('policy.decide');
    expect(byService('worker')).toContain('GET');
    // Parentage, each NATS hop a send span (PRODUCER) and a process span (CONSUMER):
    // ingress -> send/process join -> coordinator.join -> flush -> send/process fetch -> the worker's upstream call.
    const find = (name: string) => spans.find((span) => span.name === name)!;
    const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]));
    const parentOf = (span: ReadableSpan) => byId.get(span.parentSpanContext?.spanId ?? '');
    const hopAbove = (span: ReadableSpan) => {
      const processed = parentOf(span)!;
      const sent = parentOf(processed)!;
      expect([processed.kind, sent.kind]).toEqual([SpanKind.CONSUMER, SpanKind.PRODUCER]);
      expect(processed.attributes['messaging.system']).toBe('nats');
      expect(sent.attributes['messaging.destination.name']).toBe(processed.attributes['messaging.destination.name']);
      return parentOf(sent);
    };
    const upstream = spans.find((span) => span.name === 'GET' && span.kind === SpanKind.CLIENT)!;
    expect(hopAbove(upstream)).toBe(find('coordinator.flush'));
    expect(find('coordinator.flush').parentSpanContext?.spanId).toBe(find('coordinator.join').spanContext().spanId);
    expect(hopAbove(find('coordinator.join'))).toBe(find('GET /*'));
    expect(find('GET /*').parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    // The origin saw the same trace, as a child of the worker's upstream call (not the client's span).
    const seen = parseTraceparent(fleet.origin.callsTo('/traced')[0]!.headers.traceparent);
    expect(seen).toEqual({ traceId, parentId: upstream.spanContext().spanId });
  });

  it("a pass-through request reaches the origin as a child of the ingress's client span", async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const response = await request(`${fleet.ingressUrl()}/traced-write`, {
      method: 'POST',
      body: 'payload',
      headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` },
      dispatcher: burstAgent,
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-batchgate']).toBe('passthrough');
    await response.body.text();
    const spans = await traceOnceFinished(traceId, ['POST /*', 'POST']);
    const ingressSpan = spans.find((span) => span.name === 'POST /*')!;
    expect(ingressSpan.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    const call = spans.find((span) => span.name === 'POST' && span.kind === SpanKind.CLIENT)!;
    expect(call.parentSpanContext?.spanId).toBe(ingressSpan.spanContext().spanId);
    const seen = parseTraceparent(fleet.origin.callsTo('/traced-write')[0]!.headers.traceparent);
    expect(seen).toEqual({ traceId, parentId: call.spanContext().spanId });
  });
});
