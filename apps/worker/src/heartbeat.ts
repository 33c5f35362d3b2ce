import type { OnModuleInit } from '@nestjs/common';
import { Inject, Injectable } from '@nestjs/common';
import type { MessageInitShape } from '#libs/contracts';
import { WorkerHeartbeatSchema, WorkerProbeSchema } from '#libs/contracts';
import { Bus, SUBJECTS } from '#libs/nats';
import type { WorkerConfig } from './config.js';
import { WORKER_CONFIG } from './config.js';

/**
 * Tells the coordinators, every heartbeatMs on core NATS, which slots this
 * worker is calling the origin for and which calls ended since the last beat.
 * Silence means the worker is gone (killed, frozen, cut off): the coordinator
 * dispatches its slots again or releases them to the ingresses, instead of
 * letting their waiters sit out the upstream timeout.
 */
@Injectable()
export class HeartbeatBeacon implements OnModuleInit {
  private readonly calling = new Set<string>();
  private ended: string[] = [];
  /** Flow B: inference batches in flight and ended, beside the slots. */
  private readonly batches = new Set<string>();
  private endedBatches: string[] = [];
  private stopping = false;
  /** Starts at 1: an accept reply with heartbeat_seq 0 comes from a worker that sends no heartbeats. */
  private seq = 1n;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly bus: Bus,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => this.beat(), this.config.heartbeatMs);
    // A coordinator that stopped hearing the beats asks directly; answering at all proves this worker is there.
    this.unsubscribe = this.bus.subscribe(SUBJECTS.alive(this.config.instanceId), WorkerProbeSchema, (_probe, incoming) => {
      incoming.respond(WorkerHeartbeatSchema, this.state([...this.ended], [...this.endedBatches]));
    });
  }

  /**
   * Called by the fetch handler once its in-flight calls are delivered, not on
   * shutdown itself: a draining worker that went quiet would have its calls
   * dispatched again by the coordinators.
   */
  stop(): void {
    this.stopping = true;
    this.stopWhenIdle();
  }

  /** Inference batches are drained by their own handler: the beats go on until the last one ended. */
  private stopWhenIdle(): void {
    if (!this.stopping || this.batches.size > 0) return;
    clearInterval(this.timer);
    this.unsubscribe?.();
  }

  /** The sequence number to put in the accept reply: every later beat lists the slot until end(). */
  begin(slotId: string): bigint {
    this.calling.add(slotId);
    return this.seq;
  }

  end(slotId: string): void {
    if (this.calling.delete(slotId)) this.ended.push(slotId);
  }

  /** begin() for an inference batch (InferBatch.batch_id). */
  beginBatch(batchId: string): bigint {
    this.batches.add(batchId);
    return this.seq;
  }

  endBatch(batchId: string): void {
    if (this.batches.delete(batchId)) this.endedBatches.push(batchId);
    this.stopWhenIdle();
  }

  private beat(): void {
    this.seq++;
    this.bus.publish(SUBJECTS.heartbeat, WorkerHeartbeatSchema, this.state(this.ended, this.endedBatches));
    this.ended = [];
    this.endedBatches = [];
  }

  private state(doneSlotIds: string[], doneInferBatchIds: string[] = []): MessageInitShape<typeof WorkerHeartbeatSchema> {
    return {
      workerId: this.config.instanceId,
      seq: this.seq,
      slotIds: [...this.calling],
      doneSlotIds,
      intervalMs: this.config.heartbeatMs,
      inferBatchIds: [...this.batches],
      doneInferBatchIds,
    };
  }
}
