import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Inject, Injectable } from '@nestjs/common';
import { ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import type { InferBatch, InferTarget, MessageInitShape } from '#libs/contracts';
import {
  InferBatchAcceptedSchema,
  InferBatchCancelSchema,
  InferBatchResultSchema,
  InferBatchSchema,
  InferChunkSchema,
  InferCompletedSchema,
} from '#libs/contracts';
import { Registry } from '#libs/metrics';
import type { Incoming } from '#libs/nats';
import { Bus, EventPublisher, eventMeta, LargeMessages, QUEUES, SUBJECTS } from '#libs/nats';
import { LOGGER } from '#libs/service';
import type { Logger } from '#libs/tracing';
import { tracerFor } from '#libs/tracing';
import type { WorkerConfig } from '../config.js';
import { WORKER_CONFIG } from '../config.js';
import { HeartbeatBeacon } from '../heartbeat.js';
import { BackendPool, circuitValue } from './backends.js';
import type { BatchOutcome, ChunkInit } from './batch-runner.js';
import { BatchRunner } from './batch-runner.js';
import { InferenceMetrics, kindLabel } from './metrics.js';

const tracer = tracerFor('worker');

/**
 * Flow B on the worker: takes InferBatches from the workers' queue group,
 * accepts at once (the coordinator then knows someone has it, and the
 * heartbeats list it until its result is out), makes the backend call through
 * the balancer and the backend's circuit, and publishes the InferBatchResult
 * to the coordinator that dispatched it; a streamed batch's events go straight
 * to its clients' ingresses. InferBatchCancel aborts the backend call. On
 * shutdown it takes no new batch and finishes the ones in flight.
 */
@Injectable()
export class InferHandler implements OnModuleInit, OnApplicationShutdown {
  private readonly pool: BackendPool;
  private readonly metrics: InferenceMetrics;
  private readonly runner: BatchRunner;
  private readonly running = new Map<string, AbortController>();
  private readonly inFlight = new Set<Promise<void>>();
  private unsubscribe: Array<() => void> = [];

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly bus: Bus,
    private readonly events: EventPublisher,
    private readonly beacon: HeartbeatBeacon,
    private readonly large: LargeMessages,
    registry: Registry,
  ) {
    this.pool = new BackendPool(config, (backend, state) =>
      // Logged: a circuit changing state is rare and is what an operator looks for.
      this.logger.warn(
        { backend: backend.url, state: ['closed', 'open', 'half_open'][circuitValue(state)] },
        'inference backend circuit changed',
      ),
    );
    this.metrics = new InferenceMetrics(registry, this.pool);
    this.runner = new BatchRunner(this.pool, config, this.metrics, (target, chunk, ctx) => this.sendChunk(target, chunk, ctx));
  }

  onModuleInit(): void {
    // A worker without inference backends stays out of the queue group: the batch goes to one that has them.
    if (this.pool.backends.length === 0) return;
    this.unsubscribe = [
      this.bus.subscribe(SUBJECTS.infer, InferBatchSchema, (batch, incoming) => this.taken(batch, incoming), QUEUES.workers),
      this.bus.subscribe(SUBJECTS.inferBatchCancel(this.config.instanceId), InferBatchCancelSchema, (cancel) =>
        this.cancel(cancel.batchId),
      ),
    ];
    this.logger.info(
      { backends: this.pool.backends.map((b) => b.url), balancer: this.config.inferenceBalancer },
      'taking inference batches',
    );
  }

  /** Drains: no new batch (the queue-group subscription goes first), in-flight ones finish and are delivered. */
  async onApplicationShutdown(): Promise<void> {
    this.unsubscribe.shift()?.();
    await Promise.allSettled([...this.inFlight]);
    this.unsubscribe.forEach((stop) => stop());
    await this.pool.close();
  }

  /** Batch ids in flight (the heartbeats carry them too). */
  get runningBatchIds(): string[] {
    return [...this.running.keys()];
  }

  /**
   * A batch above max_payload came by reference: it is read (and deleted)
   * before the accept reply. Unreadable, it is not accepted: the coordinator's
   * accept timeout fails its items (503), as for no worker at all.
   */
  private taken(batch: InferBatch, incoming: Incoming): void {
    if (batch.storedRef === '') return this.accept(batch, incoming);
    this.large.receive(InferBatchSchema, batch).then(
      (whole) => this.accept(whole, incoming),
      (error: unknown) => this.logger.error({ err: error, batch: batch.batchId }, 'could not read a stored inference batch'),
    );
  }

  accept(batch: InferBatch, incoming: Incoming): void {
    // Listed in the heartbeats before the accept reply leaves, so no beat after it can miss the batch.
    this.beacon.beginBatch(batch.batchId);
    incoming.respond(InferBatchAcceptedSchema, { workerId: this.config.instanceId });
    const controller = new AbortController();
    this.running.set(batch.batchId, controller);
    const job = this.run(batch, controller.signal, incoming.context)
      .catch((error: unknown) => this.logger.error({ err: error, batch: batch.batchId }, 'inference batch failed unexpectedly'))
      .finally(() => {
        this.inFlight.delete(job);
        this.running.delete(batch.batchId);
        this.beacon.endBatch(batch.batchId);
      });
    this.inFlight.add(job);
  }

  cancel(batchId: string): void {
    this.running.get(batchId)?.abort();
  }

  /** The batch's span: its backend calls (HTTP client spans, one per attempt) and its result hop hang under it. */
  private async run(batch: InferBatch, signal: AbortSignal, parent: Context): Promise<void> {
    const span = tracer.startSpan(
      'worker.inference',
      {
        attributes: {
          'batchgate.batch_id': batch.batchId,
          'batchgate.kind': kindLabel(batch.kind),
          'batchgate.size': batch.inputs.length,
          'batchgate.flush_reason': batch.reason,
          'gen_ai.request.model': batch.model,
        },
      },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    let outcome: BatchOutcome;
    try {
      outcome = await this.runner.run(batch, signal, ctx);
    } catch (error) {
      outcome = {
        status: 500,
        error: `worker error: ${(error as Error).message}`,
        outputs: [],
        backend: '',
        backendMs: 0,
        calls: 0,
        responseId: '',
        createdS: 0,
        responseModel: '',
      };
    }
    span.setAttribute('batchgate.calls', outcome.calls);
    if (outcome.backend) span.setAttribute('batchgate.backend', outcome.backend);
    if (outcome.status !== 200) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error });
    await this.deliver(batch, outcome, ctx);
    span.end();
  }

  private async deliver(batch: InferBatch, outcome: BatchOutcome, ctx: Context): Promise<void> {
    this.metrics.batches.inc({ kind: kindLabel(batch.kind), status: String(outcome.status) });
    await this.sendResult(batch, outcome, ctx);
    this.events.publish('inference.completed', InferCompletedSchema, {
      meta: eventMeta(`worker/${this.config.instanceId}`),
      batchId: batch.batchId,
      backend: outcome.backend,
      status: outcome.status,
      backendMs: outcome.backendMs,
      calls: outcome.calls,
      error: outcome.error,
    });
  }

  /**
   * The result to the coordinator; one above the server's max_payload goes
   * through the Object Store (the coordinator reads and deletes it). Only if
   * that fails does the batch fail as a whole, rather than never arriving.
   */
  private async sendResult(batch: InferBatch, outcome: BatchOutcome, ctx: Context): Promise<void> {
    const subject = SUBJECTS.inferDone(batch.coordinatorId);
    const ids = { batchId: batch.batchId, workerId: this.config.instanceId };
    const result: MessageInitShape<typeof InferBatchResultSchema> = { ...ids, ...outcome };
    try {
      await this.large.publish(subject, InferBatchResultSchema, result, { stub: ids, ctx });
    } catch (err) {
      const error = `the batch's answer exceeds the NATS payload limit and could not be stored: ${(err as Error).message}`;
      this.logger.error({ err, batch: batch.batchId }, 'could not store a large inference result');
      const outputs = outcome.outputs.map(() => ({ status: 502, error }));
      this.bus.publish(subject, InferBatchResultSchema, { ...result, status: 502, error, outputs }, ctx);
    }
  }

  /**
   * One stream event to its client's ingress. Only the last travels in the
   * batch's trace (its client's span links to it there): a span pair per
   * token would bury the trace in chunks and cost the stream a span each.
   */
  private sendChunk(target: InferTarget, chunk: ChunkInit, ctx: Context): void {
    this.bus.publish(SUBJECTS.inferChunk(target.ingressId), InferChunkSchema, chunk, chunk.done ? ctx : ROOT_CONTEXT);
  }
}
