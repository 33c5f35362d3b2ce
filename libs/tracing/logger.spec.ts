import { Writable } from 'node:stream';
import { context, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { traceMixin } from './logger.js';
import { startTracing, stopTracing } from './tracing.js';

describe('log lines and trace ids', () => {
  afterAll(() => stopTracing());

  it('carry the trace and span id of the context they are written in, with no exporter configured', async () => {
    startTracing({ service: 'spec', instanceId: 'spec-1', otlpEndpoint: undefined });
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) });
    const logger = pino({ mixin: traceMixin }, sink);
    const spanContext = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED };
    // An await in between: the context must survive it (a context manager is installed), not only the synchronous call.
    await context.with(trace.setSpanContext(ROOT_CONTEXT, spanContext), async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      logger.info('inside');
    });
    logger.info('outside');
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'inside', trace_id: spanContext.traceId, span_id: spanContext.spanId });
    expect(JSON.parse(lines[1]!)).not.toHaveProperty('trace_id');
  });
});
