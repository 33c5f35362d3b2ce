import { create, FetchResultSchema, JoinReplySchema, JoinStatus } from '#libs/contracts';
import type { Route } from '#libs/config';
import { defaultRoute } from '#libs/config';
import type { Counter } from '#libs/metrics';
import { createStrategy } from '#libs/policy';
import type { Logger } from '#libs/tracing';
import type { Link, Span, SpanContext } from '@opentelemetry/api';
import { trace } from '@opentelemetry/api';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { CoalescerDeps } from './coalesce.js';
import { Coalescer } from './coalesce.js';
import { coalescingKey } from './coalescing-key.js';
import type { DirectCall } from './direct-call.js';
import type { FleetLink, JoinOutcome } from './fleet-link.js';
import type { RequestLog } from './request-log.js';
import type { Waiter } from './waiter.js';

const ROUTE: Route = defaultRoute({ batchTimeoutMs: 50, maxBatchSize: 128 });

/** A response that records what was written. */
interface Recorded {
  status?: number;
  sent?: Buffer;
  headersSent: boolean;
  destroyed: boolean;
  writableFinished: boolean;
}

function recordingResponse(): ServerResponse & Recorded {
  const res: Recorded & Record<string, unknown> = {
    headersSent: false,
    destroyed: false,
    writableFinished: false,
    writeHead(status: number) {
      res.status = status;
      res.headersSent = true;
      return res;
    },
    end(body?: Buffer) {
      res.sent = body;
      res.writableFinished = true;
      return res;
    },
    once: () => res,
  };
  return res as unknown as ServerResponse & Recorded;
}

/** A coalescer whose fleet link answers the join only when the test says so (no NATS: this is its own logic). */
function coalescerWithPendingJoin() {
  let answerJoin!: (outcome: JoinOutcome) => void;
  const directCalls: string[] = [];
  const fleet = {
    available: true,
    ingressId: 'ingress-a',
    listen: () => undefined,
    close: () => undefined,
    report: () => undefined,
    join: () => new Promise<JoinOutcome>((resolve) => (answerJoin = resolve)),
    body: (result: { body: Uint8Array }) => Promise.resolve(result.body),
  } as unknown as FleetLink;
  const deps: CoalescerDeps = {
    fleet,
    direct: {
      answer: (request: { target: string }) => {
        directCalls.push(request.target);
        return Promise.resolve({ status: 200, headers: [], body: Buffer.from('direct'), scope: 'anon', private: false, vary: [] });
      },
    } as unknown as DirectCall,
    log: { record: () => undefined } as unknown as RequestLog,
    fallback: createStrategy({ name: 'size_cap', params: { size: 100_000 } }),
    fallbacks: { inc: () => undefined } as unknown as Counter<'reason'>,
    logger: { warn: () => undefined, info: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger,
    options: { joinTimeoutMs: 10_000, flushGraceMs: 2_000, upstreamTimeoutMs: 10_000, reportIntervalMs: 2 },
  };
  return { coalescer: new Coalescer(deps), answerJoin: (outcome: JoinOutcome) => answerJoin(outcome), directCalls };
}

function waiterFor(res: ServerResponse): Waiter {
  const now = performance.now();
  return {
    res,
    method: 'GET',
    headers: [],
    scope: 'anon',
    forwardHeaders: [],
    arrivedAtMs: now,
    arrivedAtWallMs: Date.now(),
    deadlineMs: now + 30_000,
    span: trace.wrapSpanContext({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 }),
    done: false,
  };
}

/** A recording server span that keeps the links added to it (the waiter's span as the ingress ends it). */
function linkRecordingSpan(): Span & { links: Link[] } {
  const links: Link[] = [];
  const span = {
    links,
    isRecording: () => true,
    spanContext: () => ({ traceId: '1'.repeat(32), spanId: '1'.repeat(16), traceFlags: 1 }),
    addLink: (link: Link) => void links.push(link),
    setAttribute: () => span,
    setStatus: () => span,
    end: () => undefined,
  };
  return span as unknown as Span & { links: Link[] };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('Coalescer', () => {
  it('a closed notice and the result read before the join reply still answer the slot (no wait for the flush deadline)', async () => {
    const { coalescer, answerJoin, directCalls } = coalescerWithPendingJoin();
    const res = recordingResponse();
    const key = coalescingKey({ url: '/x', method: 'GET', headers: [], vary: [], isPublic: false, partitions: 64 });
    coalescer.admit(waiterFor(res), key, ROUTE, { method: 'GET', target: key.target, headers: [] });
    // One busy event-loop turn: the coordinator's closed notice and the worker's result are handled
    // before the join's continuation learns the slot id.
    coalescer.closed(['slot-1']);
    coalescer.result(create(FetchResultSchema, { slotId: 'slot-1', status: 200, body: Buffer.from('shared answer') }));
    answerJoin({ ok: true, reply: create(JoinReplySchema, { slotId: 'slot-1', status: JoinStatus.OPENED }) });
    await settle();
    expect(res.status).toBe(200);
    expect(res.sent?.toString()).toBe('shared answer');
    expect(coalescer.pending).toBe(0);
    expect(directCalls).toEqual([]);
    coalescer.stop();
  });

  it('an orphaned notice read before the join reply sends the slot to the origin directly', async () => {
    const { coalescer, answerJoin, directCalls } = coalescerWithPendingJoin();
    const key = coalescingKey({ url: '/y', method: 'GET', headers: [], vary: [], isPublic: false, partitions: 64 });
    coalescer.admit(waiterFor(recordingResponse()), key, ROUTE, { method: 'GET', target: key.target, headers: [] });
    coalescer.orphaned(['slot-2']);
    answerJoin({ ok: true, reply: create(JoinReplySchema, { slotId: 'slot-2', status: JoinStatus.OPENED }) });
    await settle();
    expect(directCalls).toEqual(['/y']);
    coalescer.stop();
  });

  it("a result read before the join reply keeps the trace context it travelled in: the waiter's span links to the upstream call", async () => {
    const { coalescer, answerJoin } = coalescerWithPendingJoin();
    const res = recordingResponse();
    const span = linkRecordingSpan();
    const key = coalescingKey({ url: '/z', method: 'GET', headers: [], vary: [], isPublic: false, partitions: 64 });
    coalescer.admit({ ...waiterFor(res), span }, key, ROUTE, { method: 'GET', target: key.target, headers: [] });
    const upstream: SpanContext = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 };
    coalescer.result(create(FetchResultSchema, { slotId: 'slot-3', status: 200, body: Buffer.from('early answer') }), upstream);
    answerJoin({ ok: true, reply: create(JoinReplySchema, { slotId: 'slot-3', status: JoinStatus.OPENED }) });
    await settle();
    expect(res.sent?.toString()).toBe('early answer');
    expect(span.links.map((link) => link.context)).toEqual([upstream]);
    coalescer.stop();
  });

  it('a join reply that says "sole member call" (flushed at its opening) makes the one call here, with no closed notice', async () => {
    const { coalescer, answerJoin, directCalls } = coalescerWithPendingJoin();
    const key = coalescingKey({ url: '/lone', method: 'GET', headers: [], vary: [], isPublic: false, partitions: 64 });
    const first = recordingResponse();
    const second = recordingResponse();
    coalescer.admit(waiterFor(first), key, ROUTE, { method: 'GET', target: key.target, headers: [] });
    // Attached locally while the join was on its way: shares the call.
    coalescer.admit(waiterFor(second), key, ROUTE, { method: 'GET', target: key.target, headers: [] });
    answerJoin({ ok: true, reply: create(JoinReplySchema, { slotId: 'slot-3', status: JoinStatus.OPENED, soleMemberCall: true }) });
    await settle();
    expect(directCalls).toEqual(['/lone']);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(coalescer.pending).toBe(0);
    coalescer.stop();
  });
});
