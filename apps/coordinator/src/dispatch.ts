import type { MessageInitShape } from '#libs/contracts';
import { FetchAcceptedSchema, FetchTaskSchema, SlotFlushedSchema, SlotsClosedSchema } from '#libs/contracts';
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
  onRedisError: (error: unknown) => void;
}

/**
 * Turns a flush decision into work: the slot leaves the open table, ONE fetch
 * goes to the worker queue group, every member ingress learns the slot is
 * closed (batched per tick), Redis forgets it and a slot.flushed event is recorded.
 */
export class FlushDispatcher {
  private readonly closed = new Map<string, string[]>();
  /** Recently flushed slot ids: a join that raced a flush must open a new slot instead. */
  readonly recentlyFlushed = new Set<string>();

  constructor(private readonly deps: DispatchDeps) {}

  flush(slot: Slot, reason: FlushReason, nowMs: number): void {
    const { table, store, metrics, events, source } = this.deps;
    if (!table.remove(slot.id)) return;
    this.remember(slot.id);
    // Issued before any later join's script, so Redis never lets a join into a flushed slot.
    store.close(slot.partition, slot.id, slot.key).catch(this.deps.onRedisError);
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
    for (const member of slot.members.keys()) {
      const list = this.closed.get(member);
      if (list) list.push(slot.id);
      else this.closed.set(member, [slot.id]);
    }
    this.dispatch(slot, reason, ageMs);
  }

  /** Sends the batched "closed" notices collected during a tick: one message per ingress. */
  sendNotices(): void {
    for (const [ingressId, slotIds] of this.closed) {
      this.deps.bus.publish(SUBJECTS.closed(ingressId), SlotsClosedSchema, { slotIds });
    }
    this.closed.clear();
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
    const task: MessageInitShape<typeof FetchTaskSchema> = {
      slotId: slot.id,
      key: slot.key,
      request: slot.opening.request,
      members: [...slot.members.keys()],
      scope: slot.opening.scope,
      route: slot.route,
      size: slot.size,
      openingIngressId: slot.opening.ingressId,
    };
    const { bus, dispatchTimeoutMs } = this.deps;
    bus
      .request(SUBJECTS.fetch, FetchTaskSchema, task, FetchAcceptedSchema, dispatchTimeoutMs, trace.setSpan(parent, span))
      .catch((error: unknown) => {
        // Nobody listening: the members must call the origin themselves. A worker
        // that is merely slow to accept still has the job; orphaning it would call
        // the origin twice, so the ingress's answer deadline covers that case.
        if (requestFailure(error) === 'unavailable') this.orphan(slot, error);
        else this.deps.metrics.dispatchTimeouts.inc();
      })
      .finally(() => span.end());
  }

  /** No worker took the job: the member ingresses answer their waiters themselves. */
  private orphan(slot: Slot, error: unknown): void {
    this.deps.metrics.orphaned.inc();
    this.deps.logger.warn({ err: error, slot: slot.id }, 'no worker accepted the flush; members will call the origin');
    for (const member of slot.members.keys()) {
      this.deps.bus.publish(SUBJECTS.closed(member), SlotsClosedSchema, { orphanedSlotIds: [slot.id] });
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
