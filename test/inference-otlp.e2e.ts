import { startTracing, stopTracing } from '#libs/tracing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestFleet } from './support/fleet.js';
import { SimBackend } from './support/inference-backend.js';
import type { ReceivedSpan } from './support/otlp-receiver.js';
import { OtlpReceiver, SPAN_KIND } from './support/otlp-receiver.js';

const CLIENTS = 32;

async function post(url: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/**
 * Flow B traced as a new user would see it: the fleet exports OTLP/HTTP to a
 * real collector the test starts, the simulated backend is its own process,
 * nobody sends a traceparent.
 */
describe('inference requests over OTLP, by the semantic conventions', () => {
  let receiver: OtlpReceiver;
  let backend: SimBackend;
  let fleet: TestFleet;
  let url: string;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    process.env.OTEL_BSP_SCHEDULE_DELAY = '100';
    startTracing({ service: 'fleet', instanceId: 'fleet-infer-otlp-1', otlpEndpoint: receiver.endpoint });
    // 40 ms per call: requests arriving together wait for one in flight and share the next.
    backend = await SimBackend.start({ BATCHGATE_BACKEND_DIMENSIONS: '4', BATCHGATE_BACKEND_BASE_MS: '40' });
    fleet = await TestFleet.start({ env: { BATCHGATE_INFERENCE_UPSTREAM: backend.url, BATCHGATE_PARTITIONS: '8' } });
    await fleet.waitForPartitions();
    url = fleet.ingressUrl();
  });

  afterAll(async () => {
    await fleet?.stop();
    await backend?.stop();
    await stopTracing();
    await receiver?.stop();
    delete process.env.OTEL_BSP_SCHEDULE_DELAY;
  });

  const received = (ready: (spans: ReceivedSpan[]) => boolean) => receiver.until(ready);

  const serverSpansOf = (spans: ReceivedSpan[], route: string) =>
    spans.filter((span) => span.kind === SPAN_KIND.server && span.attributes['http.route'] === route);
  const backendCallsOf = (spans: ReceivedSpan[], path: string) =>
    spans.filter(
      (span) =>
        span.kind === SPAN_KIND.client && span.scope === 'batchgate.worker' && span.attributes['url.full'] === `${backend.url}${path}`,
    );
  const linked = (from: ReceivedSpan, to: ReceivedSpan) => from.links.some((l) => l.traceId === to.traceId && l.spanId === to.spanId);

  it(`${CLIENTS} concurrent embedding requests: one trace each, each linked from the backend call that answered it, with the NATS hops`, async () => {
    const before = await backend.stats();
    const answers = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => post(url, '/v1/embeddings', { model: 'sim-embedding', input: `traced text ${i}` })),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(CLIENTS).fill(200));
    const calls = (await backend.stats()).calls - before.calls;
    expect(calls).toBeLessThan(CLIENTS);

    const spans = await received(
      (all) => serverSpansOf(all, '/v1/embeddings').length === CLIENTS && backendCallsOf(all, '/v1/embeddings').length >= calls,
    );
    const servers = serverSpansOf(spans, '/v1/embeddings');
    const backendCalls = backendCallsOf(spans, '/v1/embeddings');
    expect(backendCalls.length).toBe(calls);
    expect(new Set(servers.map((span) => span.traceId)).size).toBe(CLIENTS);
    for (const server of servers) {
      expect(server.name).toBe('POST /v1/embeddings');
      expect(server.attributes).toMatchObject({
        'http.request.method': 'POST',
        'url.path': '/v1/embeddings',
        'url.scheme': 'http',
        'server.address': '127.0.0.1',
        'server.port': Number(new URL(url).port),
        'http.response.status_code': 200,
      });
      // Exactly one backend call answered this client (distinct inputs, no retries) and it links to the client's span.
      const answeredBy = backendCalls.filter((call) => linked(call, server));
      expect(answeredBy, `request span ${server.spanId} is linked from ${answeredBy.length} backend calls`).toHaveLength(1);
      // And the client's own trace reaches that call: it holds it, or its server span links to the call's trace.
      const reachable = new Set([server.traceId, ...server.links.map((link) => link.traceId)]);
      expect(reachable.has(answeredBy[0]!.traceId), `trace ${server.traceId} does not reach its backend call`).toBe(true);

      const own = receiver.trace(server.traceId);
      const submit = own.find((span) => span.kind === SPAN_KIND.producer && span.parentSpanId === server.spanId);
      expect(submit?.name).toMatch(/^send bg\.v1\.coord\.infer\.\d+$/);
      expect(submit?.attributes).toMatchObject({ 'messaging.system': 'nats', 'messaging.operation.type': 'send' });
      const handled = own.find((span) => span.kind === SPAN_KIND.consumer && span.parentSpanId === submit?.spanId);
      expect(handled?.attributes).toMatchObject({
        'messaging.system': 'nats',
        'messaging.operation.type': 'process',
        'messaging.destination.name': submit?.attributes['messaging.destination.name'],
      });
    }
    for (const call of backendCalls) {
      expect(call.name).toBe('POST');
      expect(call.attributes).toMatchObject({
        'http.request.method': 'POST',
        'server.address': '127.0.0.1',
        'server.port': Number(new URL(backend.url).port),
        'http.response.status_code': 200,
      });
      // The batch reached the worker over NATS (send + process of work.infer) and its result went back the same way.
      const hops = receiver.trace(call.traceId).filter((span) => span.attributes['messaging.system'] === 'nats');
      const destinations = (kind: number) =>
        hops.filter((span) => span.kind === kind).map((span) => span.attributes['messaging.destination.name']);
      expect(destinations(SPAN_KIND.producer)).toContain('bg.v1.work.infer');
      expect(destinations(SPAN_KIND.consumer)).toContain('bg.v1.work.infer');
      expect(destinations(SPAN_KIND.producer).some((name) => String(name).endsWith('.infer-done'))).toBe(true);
    }
  });

  it('a streamed completion: its server span ends with the stream and the backend call links to it', async () => {
    const response = await post(url, '/v1/completions', { model: 'sim-llm', prompt: 'traced stream', max_tokens: 8, stream: true });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('data: [DONE]');
    const spans = await received(
      (all) => serverSpansOf(all, '/v1/completions').length === 1 && backendCallsOf(all, '/v1/completions').length === 1,
    );
    const server = serverSpansOf(spans, '/v1/completions')[0]!;
    expect(server.name).toBe('POST /v1/completions');
    expect(server.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 200 });
    const call = backendCallsOf(spans, '/v1/completions')[0]!;
    expect(linked(call, server)).toBe(true);
    expect(new Set([server.traceId, ...server.links.map((link) => link.traceId)]).has(call.traceId)).toBe(true);
  });
});
