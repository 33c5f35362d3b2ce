import type { CountReport, JoinRequest } from '#libs/contracts';
import { CountReportSchema, JoinReplySchema, JoinRequestSchema, JoinStatus, SlotJoinedSchema, SlotOpenedSchema } from '#libs/contracts';
import type { Bus, EventPublisher, Incoming } from '#libs/nats';
import { eventMeta, SUBJECTS } from '#libs/nats';
import type { FeatureBook } from '#libs/policy';
import { DEFAULT_ORIGIN } from '#libs/policy';
import type { Logger } from '#libs/tracing';
import { tracerFor } from '#libs/tracing';
import { trace } from '@opentelemetry/api';
import { randomBytes } from 'node:crypto';
import { wallNow } from './clock.js';
import type { FlushDispatcher } from './dispatch.js';
import type { CoordinatorMetrics } from './metrics.js';
import type { PartitionListener, PartitionLeases } from './partitions.js';
import type { Slot, SlotTable } from './slot-table.js';
import { laterDeadline } from './slot-table.js';
import type { JoinOutcome, SlotStore, StoredSlot } from './slot-store.js';

const tracer = tracerFor('coordinator');

/** 72 random bits: unique enough for slots that live at most a couple of minutes, and short on the wire. */
const newSlotId = (): string => randomBytes(9).toString('base64url');

export interface MembershipDeps {
  bus: Bus;
  events: EventPublisher;
  table: SlotTable;
  store: SlotStore;
  features: FeatureBook;
  dispatcher: FlushDispatcher;
  metrics: CoordinatorMetrics;
  logger: Logger;
  coordinatorId: string;
  source: string;
  leases: () => PartitionLeases;
  /**
   * A slot opened here, its opening join counted: the decision loop starts it
   * on its route's opening plan or asks about it without waiting for its next
   * tick. `sole`: flushed at once, and the join reply hands the call to its
   * only member (`inReply`: the joining ingress reads JoinReply.sole_member_call).
   */
  opened?: (slot: Slot, nowMs: number, inReply: boolean) => 'sole' | 'flushed' | undefined;
  /** Whether `opened` would flush a slot opening now with this join at once (DecisionLoop.opensDue). */
  opensDue?: (join: JoinRequest, nowMs: number) => boolean;
  onRedisError: (error: unknown) => void;
}

const featureOrigin = (originId: string): string => (originId === 'default' ? DEFAULT_ORIGIN : originId);

function slotFrom(id: string, join: JoinRequest, openedAtMs: number): Slot {
  return {
    id,
    key: join.key,
    route: join.route,
    partition: join.partition,
    openedAtMs,
    lastArrivalMs: openedAtMs,
    size: 0,
    batchTimeoutMs: join.envelope?.batchTimeoutMs || 50,
    maxBatchSize: join.envelope?.maxBatchSize || 128,
    opening: join,
    // The origin id (never the legacy URL field), with "default" as the features' DEFAULT_ORIGIN (""),
    // which is also how upstream.completed events name it.
    origin: featureOrigin(join.request?.originId ?? ''),
    members: new Map(),
    contexts: [],
    deadlineAtMs: join.deadlineAtMs,
  };
}

/**
 * Who is in which slot: serves joins and count reports for the partitions
 * this coordinator holds, and loads a partition's persisted slots when it
 * takes the partition over.
 */
export class SlotMembership implements PartitionListener {
  private readonly subscriptions = new Map<number, Array<() => void>>();

  constructor(private readonly deps: MembershipDeps) {}

  async acquired(partition: number): Promise<void> {
    const { store, table, logger } = this.deps;
    try {
      const stored = await store.load(partition);
      for (const slot of stored) table.add(this.restore(slot));
      if (stored.length > 0) logger.info({ partition, slots: stored.length }, 'took over open slots');
    } catch (error) {
      this.deps.onRedisError(error);
    }
    const { bus } = this.deps;
    this.subscriptions.set(partition, [
      bus.subscribe(SUBJECTS.join(partition), JoinRequestSchema, (request, incoming) => this.join(request, incoming)),
      bus.subscribe(SUBJECTS.report(partition), CountReportSchema, (report) => this.report(report)),
    ]);
  }

  lost(partition: number): void {
    for (const unsubscribe of this.subscriptions.get(partition) ?? []) unsubscribe();
    this.subscriptions.delete(partition);
    this.deps.table.dropPartition(partition);
  }

  unsubscribeAll(): void {
    for (const partition of [...this.subscriptions.keys()]) {
      for (const unsubscribe of this.subscriptions.get(partition) ?? []) unsubscribe();
    }
    this.subscriptions.clear();
  }

  private restore(stored: StoredSlot): Slot {
    const slot = slotFrom(stored.id, stored.opening, stored.openedAtMs);
    slot.size = stored.size;
    slot.lastArrivalMs = stored.lastArrivalMs;
    slot.members = stored.members;
    // Redis keeps the opening join only, not the deadlines of later reports: unknown, so never refused as expired.
    slot.deadlineAtMs = 0;
    return slot;
  }

  private async join(request: JoinRequest, incoming: Incoming): Promise<void> {
    const { features, metrics } = this.deps;
    const span = tracer.startSpan('coordinator.join', { attributes: { 'batchgate.key': request.key } }, incoming.context);
    const ctx = trace.setSpan(incoming.context, span);
    try {
      const now = wallNow();
      features.recordArrivals(request.key, now, request.count);
      // No await between this check and admit(): the opening plan it reads is the one admit applies.
      const atOnce = this.flushedAtOpening(request, now);
      const outcome: JoinOutcome = atOnce ? { status: 'opened', slotId: newSlotId() } : await this.decide(request, now);
      if (outcome.status === 'not_owner') {
        metrics.joins.inc({ status: 'not_owner' });
        incoming.respond(JoinReplySchema, { status: JoinStatus.NOT_OWNER, coordinatorId: this.deps.coordinatorId });
        return;
      }
      const { slot, opening } = this.admit(outcome.slotId, request, now, ctx, !atOnce);
      metrics.joins.inc({ status: outcome.status });
      span.setAttribute('batchgate.slot_id', slot.id);
      incoming.respond(JoinReplySchema, {
        status: outcome.status === 'opened' ? JoinStatus.OPENED : JoinStatus.JOINED,
        slotId: slot.id,
        coordinatorId: this.deps.coordinatorId,
        soleMemberCall: opening === 'sole',
      });
    } finally {
      span.end();
    }
  }

  /**
   * A slot that its route's opening plan flushes inside this very join never
   * outlives it, so nothing would ever read it in Redis: no later join (it is
   * closed before the reply) and no new owner (a flushed slot is not
   * recovered). It is neither written nor closed there, and the lease check
   * the join script would make is made from the lease's own expiry instead.
   */
  private flushedAtOpening(request: JoinRequest, now: number): boolean {
    const { table, leases, opensDue } = this.deps;
    if (!opensDue || table.openFor(request.key)) return false;
    return opensDue(request, now) && leases().holdsSurely(request.partition);
  }

  /**
   * Create-or-join in Redis (authoritative while it is up), retried once if it
   * raced a flush of the slot it joined; in memory alone while Redis is down.
   */
  private async decide(request: JoinRequest, now: number): Promise<JoinOutcome> {
    const leases = this.deps.leases();
    if (!leases.owns(request.partition)) return { status: 'not_owner' };
    if (leases.redisUp) {
      try {
        for (let attempt = 0; attempt < 2; attempt++) {
          const believedOpen = this.deps.table.openFor(request.key) !== undefined;
          const outcome = await this.deps.store.join(this.deps.coordinatorId, newSlotId(), request, now, believedOpen);
          if (outcome.status === 'not_owner') leases.drop(request.partition);
          if (outcome.status !== 'joined' || !this.deps.dispatcher.recentlyFlushed.has(outcome.slotId)) return outcome;
        }
      } catch (error) {
        this.deps.onRedisError(error);
      }
    }
    const open = this.deps.table.openFor(request.key);
    return open ? { status: 'joined', slotId: open.id } : { status: 'opened', slotId: newSlotId() };
  }

  private admit(
    slotId: string,
    request: JoinRequest,
    now: number,
    ctx: Parameters<SlotTable['join']>[4],
    persisted: boolean,
  ): { slot: Slot; opening: 'sole' | 'flushed' | undefined } {
    const { table, events, source } = this.deps;
    let slot = table.get(slotId);
    const opening = !slot;
    if (!slot) {
      slot = slotFrom(slotId, request, now);
      if (!persisted) slot.persisted = false;
      table.add(slot);
      events.publish('slot.opened', SlotOpenedSchema, {
        meta: eventMeta(source),
        slotId,
        key: request.key,
        route: request.route,
        partition: request.partition,
        ingressId: request.ingressId,
      });
    }
    table.join(slot, request.ingressId, request.count, now, ctx);
    // slot.opened already names the opening ingress; slot.joined records the others.
    if (opening) return { slot, opening: this.deps.opened?.(slot, now, request.soleCallInReply) };
    slot.deadlineAtMs = laterDeadline(slot.deadlineAtMs, request.deadlineAtMs);
    events.publish('slot.joined', SlotJoinedSchema, {
      meta: eventMeta(source),
      slotId,
      ingressId: request.ingressId,
      count: request.count,
    });
    return { slot, opening: undefined };
  }

  private report(report: CountReport): void {
    const { table, features, store } = this.deps;
    const now = wallNow();
    const persisted = new Map<number, Array<{ slotId: string; delta: number }>>();
    for (const { slotId, delta, deadlineAtMs } of report.counts) {
      const slot = table.get(slotId);
      if (!slot || delta === 0) continue;
      table.join(slot, report.ingressId, delta, now);
      slot.deadlineAtMs = laterDeadline(slot.deadlineAtMs, deadlineAtMs);
      features.recordArrivals(slot.key, now, delta);
      if (slot.persisted === false) continue;
      const counts = persisted.get(slot.partition);
      if (counts) counts.push({ slotId, delta });
      else persisted.set(slot.partition, [{ slotId, delta }]);
    }
    // A report is one ingress's counts for one partition (its subject): one script call for all of them.
    if (!this.deps.leases().redisUp) return;
    for (const [partition, counts] of persisted) store.report(partition, report.ingressId, counts, now).catch(this.deps.onRedisError);
  }
}
