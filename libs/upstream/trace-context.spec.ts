import { propagation, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { TraceState, W3CTraceContextPropagator } from '@opentelemetry/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HeaderList } from './headers.js';
import { withTraceContext } from './trace-context.js';

const client: HeaderList = [
  ['accept', 'application/json'],
  ['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
  ['tracestate', 'client=1'],
];

const ours = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
  traceState: new TraceState('ours=2'),
});

describe('withTraceContext', () => {
  beforeEach(() => propagation.setGlobalPropagator(new W3CTraceContextPropagator()));
  afterEach(() => propagation.disable());

  it("replaces the client's traceparent and tracestate with the calling span's", () => {
    expect(withTraceContext(client, ours)).toEqual([
      ['accept', 'application/json'],
      ['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01'],
      ['tracestate', 'ours=2'],
    ]);
  });

  it('adds a traceparent to a request that had none', () => {
    expect(withTraceContext([['accept', '*/*']], ours)).toEqual([
      ['accept', '*/*'],
      ['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01'],
      ['tracestate', 'ours=2'],
    ]);
  });

  it("keeps the client's fields when there is no span to inject", () => {
    expect(withTraceContext(client, ROOT_CONTEXT)).toBe(client);
  });

  it("keeps the client's fields when no propagator is installed", () => {
    propagation.disable();
    expect(withTraceContext(client, ours)).toBe(client);
  });
});
