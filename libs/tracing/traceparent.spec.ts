import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { contextOf, linksTo, spanContextOf, traceparentOf } from './traceparent.js';

const SPAN = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 };

describe('traceparent fields', () => {
  it('a span context survives the round trip through a traceparent value', () => {
    const value = traceparentOf(trace.setSpanContext(ROOT_CONTEXT, SPAN));
    expect(value).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect(spanContextOf(value)).toMatchObject(SPAN);
    expect(trace.getSpanContext(contextOf(value))).toMatchObject(SPAN);
  });

  it('no span, an empty or a malformed value: nothing, and ROOT as a parent', () => {
    expect(traceparentOf(ROOT_CONTEXT)).toBe('');
    expect(spanContextOf('')).toBeUndefined();
    expect(spanContextOf('00-zz-00f067aa0ba902b7-01')).toBeUndefined();
    expect(contextOf('not a traceparent')).toBe(ROOT_CONTEXT);
  });

  it('links name each distinct span once, skip empty values and stop at the limit', () => {
    const other = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-01';
    const mine = traceparentOf(trace.setSpanContext(ROOT_CONTEXT, SPAN));
    expect(linksTo([mine, '', other, mine]).map((link) => link.context.spanId)).toEqual([SPAN.spanId, '00f067aa0ba902b8']);
    expect(linksTo([mine, other], 1)).toHaveLength(1);
  });
});
