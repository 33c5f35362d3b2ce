import type { MessageInitShape } from '#libs/contracts';
import {
  FetchAcceptedSchema,
  FetchTaskSchema,
  SlotFlushedSchema,
  SlotsClosedSchema,
  WorkerHeartbeatSchema,
  WorkerProbeSchema,
} from '#libs/contracts';
import type { Bus, EventPublisher } from '#libs/nats';
import { eventMeta, requestFailure, SUBJECTS } from '#libs/nats';
import type { FlushReason } from '#libs/policy';
import type { Logger } from '#libs/tracing';
import { tracerFor } from '#libs/tracing';
import type { Context } from '@opentelemetry/api';
import { context, trace } from '@opentelemetry/api';
import type { CoordinatorMetrics } from './metrics.js';
import type { Slot, SlotTable } from './slot-table.js';
import type { SlotStore } from './slot-store.js';
import { WorkerWatch } from './worker-watch.js';

type Task = MessageInitShape<typeof FetchTaskSchema>;

/** A silent worker that does not answer its probe within this many lost-worker bounds (1 s at 250 ms) is stuck: lost. */
const PROBE_BOUNDS = 4;

const tracer = tracerFor('coordinator');

export interface DispatchDeps {
  bus: Bus;
  events: EventPublisher;
  table: SlotTable;
  store: SlotStore;
  metrics: CoordinatorMetrics;
  logger: Logger;
  source: string;
  dispatchTimeoutMs: number;
  /** `ingress`: a slot with one member ingress (that can make the call) is called by that ingress, not a worker. */
  soleMemberCalls: 'ingress' | 'worker';
  /** Heartbeat silence after which a worker's accepted slots are dispatched again or released. */
  workerLostMs: number;
  onRedisError: (error: unknown) => void;
}

/**
 * Turns a flush decision into work: the slot leaves the open table, ONE fetch
 * goes to the worker queue group, every member ingress learns the slot is
 * closed (batched per tick), Redis forgets it and a slot.flushed event is recorded.
 */
export class FlushDispatcher {
  private readonly closed = new Map<string, string[]>();
  /** Per ingress: flushed slots it is the only member of, which it calls the origin for itself. */
  private readonly soleCalls = new Map<string, string[]>();
  /** Recently flushed slot ids: a join that raced a flush must open a new slot instead. */
  readonly recentlyFlushed = new Set<string>();
  private readonly watch: WorkerWatch<Task>;
  private readonly stops: Array<() => void> = [];

  constructor(private readonly deps: DispatchDeps) {
    this.watch = new WorkerWatch(deps.workerLostMs);
  }

  /** Follows the workers' heartbeats and checks for silent ones a few times per lost-worker bound. */
  start(): void {
    const { bus, workerLostMs } = this.deps;
    this.stops.push(bus.subscribe(SUBJECTS.heartbeat, WorkerHeartbeatSchema, (beat) => this.watch.heartbeat(beat)));
    const timer = setInterval(() => this.checkLost(), Math.max(5, Math.floor(workerLostMs / 5)));
    this.stops.push(() => clearInterval(timer));
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  /** Slots in flight on a worker this coordinator watches (for tests and metrics). */
  get watched(): number {
    return this.watch.size;
  }

  /**
   * `inReply`: the flush happens inside the slot's opening join, whose reply
   * can tell a sole member to call (returns `sole_in_reply`; no notice is
   * queued for it). Returns undefined for a slot no longer open.
   */
  flush(slot: Slot, reason: FlushReason, nowMs: number, inReply = false): 'sole' | 'sole_in_reply' | 'worker' | undefined {
    const { table, store, metrics, events, source } = this.deps;
    if (!table.remove(slot.id)) return undefined;
    this.remember(slot.id);
    // Issued before any later join's script, so Redis never lets a join into a flushed slot.
    if (slot.persisted !== false) store.close(slot.partition, slot.id, slot.key).catch(this.deps.onRedisError);
    const ageMs = nowMs - slot.openedAtMs;
    metrics.flushes.inc({ reason });
    const flushed: MessageInitShape<typeof SlotFlushedSchema> = {
      meta: eventMeta(source),
      slotId: slot.id,
      key: slot.key,
      route: slot.route,
      reason,
      size: slot.size,
      ageMs,
      members: slot.members.size,
    };
    events.publish('slot.flushed', SlotFlushedSchema, flushed);
    const sole = this.soleMember(slot);
    if (sole !== undefined && inReply) return 'sole_in_reply';
    if (sole !== undefined) {
      append(this.soleCalls, sole, slot.id);
      return 'sole';
    }
    for (const member of slot.members.keys()) append(this.closed, member, slot.id);
    this.dispatch(slot, reason, ageMs);
    return 'worker';
  }

  /**
   * The ingress that makes the slot's call itself: the only member, when it
   * opened the slot (its leader's request is the one replayed) and said it
   * can. The worker round trip and the result hop back are skipped; a second
   * member in the slot means a worker, whose answer goes to both.
   */
  private soleMember(slot: Slot): string | undefined {
    if (this.deps.soleMemberCalls !== 'ingress' || slot.members.size !== 1 || !slot.opening.soleMemberCall) return undefined;
    const [only] = slot.members.keys();
    return only === slot.opening.ingressId ? only : undefined;
  }

  /** Sends the batched "closed" notices collected during a tick: one message per ingress. */
  sendNotices(): void {
    for (const [ingressId, slotIds] of this.closed) {
      const soleMemberSlotIds = this.soleCalls.get(ingressId) ?? [];
      this.soleCalls.delete(ingressId);
      this.deps.bus.publish(SUBJECTS.closed(ingressId), SlotsClosedSchema, { slotIds, soleMemberSlotIds });
    }
    for (const [ingressId, soleMemberSlotIds] of this.soleCalls) {
      this.deps.bus.publish(SUBJECTS.closed(ingressId), SlotsClosedSchema, { soleMemberSlotIds });
    }
    this.closed.clear();
    this.soleCalls.clear();
  }

  private dispatch(slot: Slot, reason: FlushReason, ageMs: number): void {
    const parent: Context = slot.contexts[0] ?? context.active();
    const span = tracer.startSpan(
      'coordinator.flush',
      {
        attributes: {
          'batchgate.slot_id': slot.id,
          'batchgate.flush_reason': reason,
          'batchgate.size': slot.size,
          'batchgate.age_ms': ageMs,
        },
        links: slot.contexts.slice(1).flatMap((ctx) => {
          const spanContext = trace.getSpanContext(ctx);
          return spanContext ? [{ context: spanContext }] : [];
        }),
      },
      parent,
    );
    const task: Task = {
      slotId: slot.id,
      key: slot.key,
      request: slot.opening.request,
      members: [...slot.members.keys()],
      scope: slot.opening.scope,
      route: slot.route,
      size: slot.size,
      deadlineAtMs: slot.deadlineAtMs,
      attempt: 0,
      openingIngressId: slot.opening.ingressId,
    };
    void this.send(task, trace.setSpan(parent, span)).finally(() => span.end());
  }

  /**
   * One request to the worker queue group. An accepted task is watched until
   * the worker's heartbeats say its call is over; a first attempt that is not
   * accepted in time is watched too (a worker may have it and be slow to
   * reply: its heartbeat will name the slot). Nobody listening, or a second
   * attempt not accepted, releases the members to their own origin call.
   */
  private async send(task: Task, ctx?: Context): Promise<void> {
    const { bus, dispatchTimeoutMs, metrics } = this.deps;
    const slotId = task.slotId ?? '';
    try {
      const accepted = await bus.request(SUBJECTS.fetch, FetchTaskSchema, task, FetchAcceptedSchema, dispatchTimeoutMs, ctx);
      // heartbeat_seq 0: a worker of an older release that sends no heartbeats; it is trusted as before.
      if (accepted.heartbeatSeq > 0n) this.watch.follow(slotId, accepted.workerId, accepted.heartbeatSeq, task);
    } catch (error) {
      if (requestFailure(error) === 'unavailable' || (task.attempt ?? 0) > 0) return this.orphan(task, error);
      metrics.dispatchTimeouts.inc();
      this.watch.follow(slotId, undefined, 0n, task);
    }
  }

  /**
   * Slots whose worker went silent: dispatched once more to the queue group,
   * or, on their second loss, released to the members. Decided after the next
   * I/O poll, so heartbeats that were already waiting unread on a busy loop
   * count first (timers run before the poll phase).
   */
  private checkLost(): void {
    setImmediate(() => {
      for (const workerId of this.watch.toProbe()) this.probe(workerId);
      for (const lost of this.watch.takeLost()) {
        const { job } = lost;
        this.deps.metrics.workerSilence.observe(lost.silentMs / 1000);
        this.deps.logger.warn(
          { slot: lost.slotId, worker: lost.workerId ?? 'unknown', silentMs: Math.round(lost.silentMs), attempt: job.attempt ?? 0 },
          'worker lost with a slot in flight',
        );
        if ((job.attempt ?? 0) === 0) {
          this.deps.metrics.lostSlots.inc({ outcome: 'redispatched' });
          void this.send({ ...job, attempt: 1 });
        } else {
          this.deps.metrics.lostSlots.inc({ outcome: 'released' });
          this.orphan(job, new Error('worker lost twice'));
        }
      }
    });
  }

  /**
   * Asks a silent worker whether it is there. "No responders" means it is gone
   * from NATS (a SIGKILL shows up at once: its subscription went with its
   * socket); no reply within PROBE_BOUNDS lost-worker bounds means it is stuck.
   */
  private probe(workerId: string): void {
    const { bus, workerLostMs, source } = this.deps;
    bus
      .request(SUBJECTS.alive(workerId), WorkerProbeSchema, { coordinatorId: source }, WorkerHeartbeatSchema, workerLostMs * PROBE_BOUNDS)
      .then((beat) => {
        this.watch.heartbeat(beat);
        this.watch.probed(workerId, 'alive');
      })
      .catch(() => this.watch.probed(workerId, 'gone'));
  }

  /** No worker took the job (or it was lost twice): the member ingresses answer their waiters themselves. */
  private orphan(task: Task, error: unknown): void {
    this.deps.metrics.orphaned.inc();
    this.deps.logger.warn({ err: error, slot: task.slotId }, 'no worker has the flush; members will call the origin');
    for (const member of task.members ?? []) {
      this.deps.bus.publish(SUBJECTS.closed(member), SlotsClosedSchema, { orphanedSlotIds: [task.slotId ?? ''] });
    }
  }

  private remember(slotId: string): void {
    this.recentlyFlushed.add(slotId);
    if (this.recentlyFlushed.size > 10_000) {
      const oldest = this.recentlyFlushed.values().next().value;
      if (oldest !== undefined) this.recentlyFlushed.delete(oldest);
    }
  }
}

function append(lists: Map<string, string[]>, member: string, slotId: string): void {
  const list = lists.get(member);
  if (list) list.push(slotId);
  else lists.set(member, [slotId]);
}
