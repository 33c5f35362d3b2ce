import { DecideReplySchema, DecideRequestSchema, FlushAction } from '#libs/contracts';
import type { Bus } from '#libs/nats';
import type { RequestFailure } from '#libs/nats';
import { requestFailure, SUBJECTS } from '#libs/nats';
import type { FeatureBook, FlushStrategy, SlotFeatures } from '#libs/policy';
import { encodeSlotBatch, envelopeReason } from '#libs/policy';
import { tracerFor } from '#libs/tracing';
import { context, trace } from '@opentelemetry/api';
import { wallNow } from './clock.js';
import type { FlushDispatcher } from './dispatch.js';
import type { CoordinatorMetrics } from './metrics.js';
import type { Slot, SlotTable } from './slot-table.js';

const tracer = tracerFor('coordinator');

/** After the policy service is found absent, ask again only after this long. */
const POLICY_BACKOFF_MS = 100;

export interface DecisionLoopDeps {
  bus: Bus;
  table: SlotTable;
  features: FeatureBook;
  dispatcher: FlushDispatcher;
  fallback: FlushStrategy;
  metrics: CoordinatorMetrics;
  coordinatorId: string;
  tickMs: number;
  decisionTimeoutMs: number;
}

/**
 * The owner's tick: the envelope first (size_cap, timeout), then ONE
 * policy.decide request for every other open slot. One request is in flight
 * at a time; an answer later than the decision timeout, or none at all, is
 * replaced by the embedded strategy and the flushes count as `fallback`.
 */
export class DecisionLoop {
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private backoffUntil = 0;
  private readonly random = Math.random;

  constructor(private readonly deps: DecisionLoopDeps) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), this.deps.tickMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  tick(): void {
    const { table, dispatcher } = this.deps;
    if (table.size === 0) return;
    const now = wallNow();
    const pending: Slot[] = [];
    for (const slot of table.values()) {
      const reason = envelopeReason({
        size: slot.size,
        ageMs: now - slot.openedAtMs,
        maxBatchSize: slot.maxBatchSize,
        batchTimeoutMs: slot.batchTimeoutMs,
      });
      if (reason) dispatcher.flush(slot, reason, now);
      else pending.push(slot);
    }
    if (pending.length > 0 && !this.inFlight) {
      if (now < this.backoffUntil) this.fallBack(pending, now, 'unavailable', false);
      else this.ask(pending, now);
    }
    dispatcher.sendNotices();
  }

  private featuresOf(slots: readonly Slot[], now: number): SlotFeatures[] {
    const depth = this.deps.table.waiters();
    return slots.map((slot) => this.deps.features.features(slot, now, depth));
  }

  private ask(slots: Slot[], now: number): void {
    const { bus, metrics, decisionTimeoutMs, coordinatorId } = this.deps;
    const features = this.featuresOf(slots, now);
    const batch = encodeSlotBatch(features.map((f, i) => ({ slotId: slots[i]!.id, route: slots[i]!.route, features: f })));
    const parent = slots[0]!.contexts[0] ?? context.active();
    const span = tracer.startSpan('coordinator.decide', { attributes: { 'batchgate.slots': slots.length } }, parent);
    const started = performance.now();
    this.inFlight = true;
    bus
      .request(
        SUBJECTS.decide,
        DecideRequestSchema,
        { coordinatorId, slots: batch },
        DecideReplySchema,
        decisionTimeoutMs,
        trace.setSpan(parent, span),
      )
      .then((reply) => {
        metrics.decideLatency.observe((performance.now() - started) / 1000);
        const at = wallNow();
        // Decisions come back in request order; a slot flushed meanwhile is no longer in the table.
        reply.actions.forEach((action, i) => {
          const slot = slots[i];
          if (action === FlushAction.FLUSH && slot && this.deps.table.get(slot.id) === slot) this.deps.dispatcher.flush(slot, 'policy', at);
        });
      })
      .catch((error: unknown) => {
        const cause = requestFailure(error);
        if (cause !== 'timeout') this.backoffUntil = wallNow() + POLICY_BACKOFF_MS;
        span.recordException(error as Error);
        this.fallBack(slots, wallNow(), cause, true);
      })
      .finally(() => {
        this.inFlight = false;
        span.end();
        this.deps.dispatcher.sendNotices();
      });
  }

  /** The embedded strategy decides for the slots still open. */
  private fallBack(slots: Slot[], now: number, cause: RequestFailure, refresh: boolean): void {
    const open = refresh ? slots.filter((slot) => this.deps.table.get(slot.id) === slot) : slots;
    if (open.length === 0) return;
    this.deps.metrics.fallbacks.inc({ reason: cause });
    const decisions = this.deps.fallback.decide(this.featuresOf(open, now), { random: this.random, nowMs: now });
    decisions.forEach((decision, i) => {
      if (decision.action === 'flush') this.deps.dispatcher.flush(open[i]!, 'fallback', now);
    });
  }
}
