import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Inject, Injectable } from '@nestjs/common';
import type { FetchTask } from '#libs/contracts';
import {
  create,
  FetchAcceptedSchema,
  FetchBodyChunkSchema,
  FetchResultSchema,
  FetchTaskSchema,
  toBinary,
  UpstreamCompletedSchema,
} from '#libs/contracts';
import { Counter, Histogram, Registry } from '#libs/metrics';
import type { Incoming } from '#libs/nats';
import { Bus, EventPublisher, eventMeta, LargeMessages, QUEUES, SUBJECTS } from '#libs/nats';
import { LOGGER } from '#libs/service';
import type { Logger } from '#libs/tracing';
import { httpClientAttributes, tracerFor } from '#libs/tracing';
import type { BufferedResponse, HeaderList, ResultInit, TimedStream } from '#libs/upstream';
import { answerFrom, bodyPieces, isStreamed, OriginPool, UpstreamError, withTraceContext } from '#libs/upstream';
import type { Context } from '@opentelemetry/api';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ATTR_HTTP_RESPONSE_STATUS_CODE } from '@opentelemetry/semantic-conventions';
import type { WorkerConfig } from './config.js';
import { WORKER_CONFIG } from './config.js';
import { HeartbeatBeacon } from './heartbeat.js';
import { DEFAULT_ORIGIN_ID, OriginDirectory } from './origins.js';
import { callBudgetMs } from './task-budget.js';

const tracer = tracerFor('worker');

/** Room left in a NATS message for everything but the body. */
const ENVELOPE_BYTES = 64 * 1024;

/** Room in a body piece's message for its slot id, sequence number and markers. */
const PIECE_ENVELOPE_BYTES = 1024;

/**
 * The worker pool's job: accept a flushed slot at once (so the coordinator
 * knows someone has it), make the ONE upstream call, and publish the answer
 * to every member ingress. A large or unknown-length body is streamed to them
 * in pieces as it arrives; a smaller one too big for a NATS message goes
 * through the Object Store and the result carries a reference.
 */
@Injectable()
export class FetchHandler implements OnModuleInit, OnApplicationShutdown {
  private readonly origins: OriginPool;
  private readonly directory: OriginDirectory;
  private readonly calls: Counter<'status'>;
  private readonly refused: Counter<'reason'>;
  private readonly latency: Histogram;
  private unsubscribe: (() => void) | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly bus: Bus,
    private readonly events: EventPublisher,
    private readonly large: LargeMessages,
    private readonly beacon: HeartbeatBeacon,
    registry: Registry,
  ) {
    this.directory = new OriginDirectory(config.upstream);
    this.origins = new OriginPool({
      connections: config.upstreamConnections,
      timeoutMs: config.upstreamTimeoutMs,
      maxBodyBytes: config.maxBodyBytes,
    });
    this.calls = new Counter({
      name: 'batchgate_worker_upstream_calls_total',
      help: 'Upstream calls by status class',
      labelNames: ['status'],
      registers: [registry],
    });
    this.refused = new Counter({
      name: 'batchgate_worker_tasks_refused_total',
      help: 'Tasks answered with an error and no origin call: expired (deadline passed) or unknown_origin',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'batchgate_worker_upstream_latency_seconds',
      help: 'Upstream call latency',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
  }

  onModuleInit(): void {
    this.unsubscribe = this.bus.subscribe(SUBJECTS.fetch, FetchTaskSchema, (task, incoming) => this.accept(task, incoming), QUEUES.workers);
  }

  /** Drains: no new jobs, in-flight calls finish and are delivered. */
  async onApplicationShutdown(): Promise<void> {
    this.unsubscribe?.();
    await Promise.allSettled([...this.inFlight]);
    this.beacon.stop();
    await this.origins.close();
  }

  accept(task: FetchTask, incoming: Incoming): void {
    // Listed in the heartbeats before the accept reply leaves, so no beat after it can miss the slot.
    const heartbeatSeq = this.beacon.begin(task.slotId);
    incoming.respond(FetchAcceptedSchema, { workerId: this.config.instanceId, heartbeatSeq });
    const job = this.run(task, incoming).finally(() => {
      this.inFlight.delete(job);
      this.beacon.end(task.slotId);
    });
    this.inFlight.add(job);
  }

  private async run(task: FetchTask, incoming: Incoming): Promise<void> {
    const request = task.request;
    // request.origin (a URL) is ignored on purpose: only configured origins are called.
    const origin = this.directory.resolve(request?.originId ?? '');
    const budgetMs = callBudgetMs(task.deadlineAtMs, Date.now(), this.config.upstreamTimeoutMs);
    if (origin === undefined || budgetMs === 'expired') {
      const reason = origin === undefined ? 'unknown_origin' : 'expired';
      return this.refuse(task, incoming, reason);
    }
    const method = request?.method ?? 'GET';
    // The conventions name an HTTP client span after its method alone (no URL template is known here).
    const span = tracer.startSpan(
      method,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          ...httpClientAttributes(method, new URL(origin), request?.path ?? '/'),
          'batchgate.slot_id': task.slotId,
          'batchgate.size': task.size,
        },
      },
      incoming.context,
    );
    const ctx = trace.setSpan(incoming.context, span);
    const requestHeaders: HeaderList = (request?.headers ?? []).map((h) => [h.name, h.value]);
    let outcome: BufferedResponse | TimedStream | UpstreamError;
    try {
      // The origin's parent is this call's span; Vary is still matched on the client's headers.
      const upstreamHeaders = withTraceContext(requestHeaders, ctx);
      outcome = await this.origins.fetchAnswer(origin, request?.method ?? 'GET', request?.path ?? '/', upstreamHeaders, budgetMs);
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, outcome.status);
      if (outcome.status >= 400) span.setStatus({ code: SpanStatusCode.ERROR });
    } catch (error) {
      outcome = error instanceof UpstreamError ? error : new UpstreamError('protocol', String(error));
      span.setAttribute(ATTR_ERROR_TYPE, outcome.kind);
      span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.message });
    }
    const answerTask = { slotId: task.slotId, scope: task.scope, requestHeaders, producerIngressId: task.openingIngressId };
    // Events name the origin as before ids existed: empty is the fleet's configured upstream.
    const originId = request?.originId ?? '';
    const eventOrigin = originId === DEFAULT_ORIGIN_ID ? '' : originId;
    if (!(outcome instanceof UpstreamError) && isStreamed(outcome)) {
      const head = answerFrom(answerTask, { ...outcome, body: Buffer.alloc(0) });
      // body_ref names an object that is never stored: an ingress too old to know `streamed` fails to read it and
      // calls the origin itself (as for any unreadable body), instead of serving the empty head as the whole answer.
      const read = await this.stream(task, { ...head, streamed: true, bodyRef: `streamed/${task.slotId}` }, outcome, ctx);
      if (read.error) span.setStatus({ code: SpanStatusCode.ERROR, message: read.error });
      this.record(task, eventOrigin, { status: outcome.status, latencyMs: outcome.latencyMs, bytes: read.bytes, error: read.error });
      span.end();
      return;
    }
    const result = answerFrom(answerTask, outcome);
    const latencyMs = outcome instanceof UpstreamError ? 0 : outcome.latencyMs;
    this.record(task, eventOrigin, { status: result.status ?? 502, latencyMs, bytes: result.body?.length ?? 0, error: result.error ?? '' });
    const deliverable = await this.spillLargeBody(result);
    for (const member of task.members) this.bus.publish(SUBJECTS.result(member), FetchResultSchema, deliverable, ctx);
    span.end();
  }

  /**
   * A large or unknown-length answer: the head goes to every member at once,
   * then the body in numbered pieces (each within the payload limit) as the
   * origin sends it, then an end marker, or an error marker when the read
   * failed (the waiters' connections are then closed, not served a short body).
   */
  private async stream(task: FetchTask, head: ResultInit, answer: TimedStream, ctx: Context): Promise<{ bytes: number; error: string }> {
    for (const member of task.members) this.bus.publish(SUBJECTS.result(member), FetchResultSchema, head, ctx);
    const room = this.large.limit - PIECE_ENVELOPE_BYTES;
    let seq = 0;
    let bytes = 0;
    try {
      for await (const piece of bodyPieces(answer)) {
        bytes += piece.length;
        for (let at = 0; at < piece.length; at += room) this.sendPiece(task, { seq: ++seq, data: piece.subarray(at, at + room) });
      }
      this.sendPiece(task, { seq: seq + 1, end: true });
      return { bytes, error: '' };
    } catch (error) {
      const kind = error instanceof UpstreamError ? error.kind : 'protocol';
      this.logger.warn({ slot: task.slotId, err: error, bytes }, 'streamed answer cut');
      this.sendPiece(task, { seq: seq + 1, error: kind });
      return { bytes, error: kind };
    }
  }

  /** One piece, encoded once for every member. */
  private sendPiece(task: FetchTask, piece: { seq: number; data?: Uint8Array; end?: boolean; error?: string }): void {
    const data = toBinary(FetchBodyChunkSchema, create(FetchBodyChunkSchema, { ...piece, slotId: task.slotId }));
    for (const member of task.members) this.bus.publishEncoded(SUBJECTS.body(member), data);
  }

  /** Answers the members with an error and calls nothing: no waiter is left, or the origin id is not ours. */
  private refuse(task: FetchTask, incoming: Incoming, reason: 'expired' | 'unknown_origin'): void {
    this.refused.inc({ reason });
    const message =
      reason === 'expired'
        ? 'the deadline of every waiter passed before a worker could call the origin'
        : `origin id "${task.request?.originId ?? ''}" is not configured on this worker`;
    // Logged at warn: an unknown id is a misconfiguration or a client that should not be on NATS.
    if (reason === 'unknown_origin') this.logger.warn({ slot: task.slotId, originId: task.request?.originId }, 'refused a task');
    const result = answerFrom({ slotId: task.slotId, scope: task.scope, requestHeaders: [] }, new UpstreamError(reason, message));
    for (const member of task.members) this.bus.publish(SUBJECTS.result(member), FetchResultSchema, result, incoming.context);
  }

  private record(task: FetchTask, origin: string, call: { status: number; latencyMs: number; bytes: number; error: string }): void {
    this.calls.inc({ status: `${Math.floor(call.status / 100)}xx` });
    if (call.latencyMs > 0) this.latency.observe(call.latencyMs / 1000);
    this.events.publish('upstream.completed', UpstreamCompletedSchema, {
      meta: eventMeta(`worker/${this.config.instanceId}`),
      slotId: task.slotId,
      status: call.status,
      latencyMs: call.latencyMs,
      bytes: BigInt(call.bytes),
      error: call.error,
      origin,
    });
  }

  /** Moves a body that would not fit in one NATS message to the Object Store. */
  private async spillLargeBody(result: ResultInit): Promise<ResultInit> {
    const body = result.body;
    if (!body || this.large.fits(body.length + ENVELOPE_BYTES)) return result;
    try {
      // Every member ingress reads it, so it is left to the bucket's TTL rather than deleted by the first.
      const name = `${result.slotId}`;
      await this.large.put(name, body);
      return { ...result, body: new Uint8Array(), bodyRef: name };
    } catch (error) {
      this.logger.error({ err: error, slot: result.slotId }, 'could not store a large body');
      return answerFrom(
        { slotId: result.slotId ?? '', scope: result.scope ?? '', requestHeaders: [], producerIngressId: result.producerIngressId ?? '' },
        new UpstreamError('too_large', 'answer too large to deliver'),
      );
    }
  }
}
