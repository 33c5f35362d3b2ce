import { startTracing, stopTracing } from '#libs/tracing';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burst, burstAgent, get, warm } from './support/client.js';
import { TestFleet } from './support/fleet.js';
import type { ReceivedSpan } from './support/otlp-receiver.js';
import { OtlpReceiver, SPAN_KIND } from './support/otlp-receiver.js';

/** OTLP status code ERROR. */
const STATUS_ERROR = 2;

/**
 * Tried as a new user would: the fleet exports OTLP/HTTP to a collector (here
 * a real one the test starts), nobody sends a traceparent.
 */
describe('OpenTelemetry over OTLP, by the semantic conventions', () => {
  let receiver: OtlpReceiver;
  let fleet: TestFleet;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    // The BatchSpanProcessor's 5 s default delay would only slow the test down; the detectors must pick this up.
    process.env.OTEL_BSP_SCHEDULE_DELAY = '100';
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'deployment.environment.name=e2e';
    startTracing({ service: 'fleet', instanceId: 'fleet-e2e-1', otlpEndpoint: receiver.endpoint });
    fleet = await TestFleet.start({
      originDelayMs: 150,
      // Calls through the worker (with one ingress the slot's only member would call the origin itself):
      // the worker path is the one with the NATS result hop this file follows.
      env: {
        BATCHGATE_POLICY_STRATEGY: 'fixed_timer:window_ms=20',
        BATCHGATE_BATCH_TIMEOUT_MS: '200',
        BATCHGATE_SOLE_MEMBER_CALLS: 'worker',
      },
    });
  });

  afterAll(async () => {
    await fleet.stop();
    await stopTracing();
    await receiver.stop();
    delete process.env.OTEL_BSP_SCHEDULE_DELAY;
    delete process.env.OTEL_RESOURCE_ATTRIBUTES;
  });

  const received = (ready: (spans: ReceivedSpan[]) => boolean) => receiver.until(ready);

  const serverSpansOf = (spans: ReceivedSpan[], path: string) =>
    spans.filter((span) => span.kind === SPAN_KIND.server && span.attributes['url.path'] === path);

  it('20 identical GETs through one ingress: one trace each, every one with a path to the upstream call and the NATS hops', async () => {
    await warm(fleet.ingressUrl(), 20);
    const replies = await burst(`${fleet.ingressUrl()}/otlp-burst?b=2&a=1`, 20);
    expect(replies.map((reply) => reply.status)).toEqual(Array(20).fill(200));
    const upstreamCalls = fleet.origin.callsTo('/otlp-burst').length;
    expect(upstreamCalls).toBeLessThan(20);
    const isUpstream = (span: ReceivedSpan) => span.kind === SPAN_KIND.client && span.scope === 'batchgate.worker';
    const spans = await received(
      (all) => serverSpansOf(all, '/otlp-burst').length === 20 && all.filter(isUpstream).length >= upstreamCalls,
    );

    const servers = serverSpansOf(spans, '/otlp-burst');
    expect(new Set(servers.map((span) => span.traceId)).size).toBe(20);
    for (const server of servers) {
      expect(server.name).toBe('GET /*');
      expect(server.attributes).toMatchObject({
        'http.request.method': 'GET',
        'url.path': '/otlp-burst',
        'url.query': 'b=2&a=1',
        'url.scheme': 'http',
        'http.route': '/*',
        'server.address': '127.0.0.1',
        'server.port': Number(new URL(fleet.ingressUrl()).port),
        'http.response.status_code': 200,
      });
      expect(server.resource).toMatchObject({
        'service.name': 'batchgate-fleet',
        'service.instance.id': 'fleet-e2e-1',
        'service.version': '0.1.0',
        'deployment.environment.name': 'e2e',
      });
      // The client's trace, and the traces its server span links to: together they show the call that answered it.
      const reachable = new Set([server.traceId, ...server.links.map((link) => link.traceId)]);
      const seen = spans.filter((span) => reachable.has(span.traceId));
      expect(seen.some(isUpstream), `trace ${server.traceId} reaches no upstream call`).toBe(true);
      const messaging = seen.filter((span) => span.attributes['messaging.system'] === 'nats');
      expect(messaging.some((span) => span.kind === SPAN_KIND.producer && span.attributes['messaging.operation.type'] === 'send')).toBe(
        true,
      );
      expect(messaging.some((span) => span.kind === SPAN_KIND.consumer && span.attributes['messaging.operation.type'] === 'process')).toBe(
        true,
      );
      expect(messaging.every((span) => typeof span.attributes['messaging.destination.name'] === 'string')).toBe(true);
    }
    // Local followers are linked, not only the waiter whose join travelled.
    expect(servers.filter((span) => span.links.length > 0).length).toBeGreaterThan(0);

    const upstream = spans.filter(isUpstream).find((span) => String(span.attributes['url.full']).includes('/otlp-burst'))!;
    expect(upstream.attributes).toMatchObject({
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(fleet.origin.url).port),
      'http.response.status_code': 200,
    });
    const join = spans.find(
      (span) => span.kind === SPAN_KIND.producer && String(span.attributes['messaging.destination.name']).startsWith('bg.v1.coord.join.'),
    );
    expect(join?.name).toMatch(/^send bg\.v1\.coord\.join\.\d+$/);
  });

  it('a pass-through request has a client span the origin hangs under, and a 5xx sets error status', async () => {
    fleet.origin.handle((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('bad gateway');
    });
    try {
      const response = await request(`${fleet.ingressUrl()}/otlp-write?x=1`, { method: 'POST', body: 'payload', dispatcher: burstAgent });
      expect(response.statusCode).toBe(502);
      await response.body.text();
    } finally {
      fleet.origin.handle(undefined);
    }
    const spans = await received((all) => serverSpansOf(all, '/otlp-write').length === 1);
    const server = serverSpansOf(spans, '/otlp-write')[0]!;
    expect(server.attributes).toMatchObject({ 'http.request.method': 'POST', 'url.query': 'x=1', 'http.response.status_code': 502 });
    expect(server.status).toBe(STATUS_ERROR);
    const client = await received((all) => all.some((span) => span.traceId === server.traceId && span.kind === SPAN_KIND.client));
    const call = client.find((span) => span.traceId === server.traceId && span.kind === SPAN_KIND.client)!;
    expect(call.parentSpanId).toBe(server.spanId);
    expect(call.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.response.status_code': 502,
      'url.full': `${fleet.origin.url}/otlp-write?x=1`,
    });
    expect(call.status).toBe(STATUS_ERROR);
    const traceparent = String(fleet.origin.callsTo('/otlp-write')[0]!.headers.traceparent);
    expect(traceparent).toContain(`-${call.spanId}-`);
  });

  it('a client that hangs up before its coalesced answer still gets its server span, ended with error.type client_closed', async () => {
    // The origin takes 150 ms; the client gives up after 30.
    await expect(
      request(`${fleet.ingressUrl()}/otlp-gone`, { dispatcher: burstAgent, signal: AbortSignal.timeout(30) }).then((r) => r.body.text()),
    ).rejects.toThrow();
    const spans = await received((all) => serverSpansOf(all, '/otlp-gone').length === 1);
    const server = serverSpansOf(spans, '/otlp-gone')[0]!;
    expect(server.attributes['error.type']).toBe('client_closed');
    expect(server.attributes['http.response.status_code']).toBeUndefined();
  });

  // Last: it stops NATS for good.
  it('a request answered by the ingress itself (NATS down) has a client span for its own origin call', async () => {
    await fleet.nats.stop();
    const reply = await get(`${fleet.ingressUrl()}/otlp-local`);
    expect(reply.status).toBe(200);
    expect(reply.headers['x-batchgate']).toBe('fallback');
    const spans = await received((all) => serverSpansOf(all, '/otlp-local').length === 1);
    const server = serverSpansOf(spans, '/otlp-local')[0]!;
    const withCall = await received((all) => all.some((span) => span.parentSpanId === server.spanId && span.kind === SPAN_KIND.client));
    const call = withCall.find((span) => span.parentSpanId === server.spanId && span.kind === SPAN_KIND.client)!;
    expect(call.scope).toBe('batchgate.ingress');
    expect(call.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'url.full': `${fleet.origin.url}/otlp-local`,
    });
    expect(String(fleet.origin.callsTo('/otlp-local')[0]!.headers.traceparent)).toContain(`-${call.spanId}-`);
  });
});
