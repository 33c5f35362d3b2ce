import { DecideReplySchema, DecideRequestSchema } from '#libs/contracts';
import type { Bus, RequestFailure } from '#libs/nats';
import { requestFailure, SUBJECTS } from '#libs/nats';
import type { FeatureBook, Flush, FlushStrategy, Question } from '#libs/policy';
import { DecisionRound, encodeSlotBatch, OpeningPlans, openingsOfReply, plansOfReply } from '#libs/policy';
import { tracerFor } from '#libs/tracing';
import { context, trace } from '@opentelemetry/api';
import { wallNow } from './clock.js';
import type { FlushDispatcher } from './dispatch.js';
import type { CoordinatorMetrics } from './metrics.js';
import type { Slot, SlotTable } from './slot-table.js';

const tracer = tracerFor('coordinator');

export interface DecisionLoopDeps {
  bus: Pick<Bus, 'request'>;
  table: SlotTable;
  features: FeatureBook;
  dispatcher: Pick<FlushDispatcher, 'flush' | 'sendNotices'>;
  fallback: FlushStrategy;
  metrics: Pick<CoordinatorMetrics, 'decideLatency' | 'fallbacks'>;
  coordinatorId: string;
  tickMs: number;
  decisionTimeoutMs: number;
  /** How long an opening plan stands (default OPENING_PLAN_TTL_MS; 0 = none). */
  openingPlanTtlMs?: number;
  /** The clock (ms); the wall clock unless a test drives time. */
  now?: () => number;
  random?: () => number;
}

/**
 * The owner's tick: timers and I/O around the shared DecisionRound
 * (libs/policy), which decides what a tick means (envelope, plans, which
 * slots to ask, late answers). This class only sends the round's question as
 * ONE policy.decide request, hands the answer (or the failure) back, and
 * dispatches the flushes. The request waits up to the round's give-up time,
 * not the decision timeout: an answer that is late is still the newest plan.
 */
export class DecisionLoop {
  private timer: NodeJS.Timeout | undefined;
  private prompted = false;
  private readonly round: DecisionRound<Slot>;
  private readonly now: () => number;
  /** Why the embedded strategy is planning slots: the in-flight round is late, or the last one failed. */
  private fallbackCause: RequestFailure = 'timeout';

  constructor(private readonly deps: DecisionLoopDeps) {
    this.now = deps.now ?? wallNow;
    this.round = new DecisionRound<Slot>({
      features: deps.features,
      view: (slot) => slot,
      isOpen: (slot) => deps.table.get(slot.id) === slot,
      fallback: deps.fallback,
      random: deps.random ?? Math.random,
      decisionTimeoutMs: deps.decisionTimeoutMs,
      openings: new OpeningPlans(deps.openingPlanTtlMs),
    });
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.deps.tickMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * A slot opened and its opening join is counted. With a standing opening
   * plan for its route (DecisionRound.open) it starts on that plan, and a
   * plan that says "now" flushes it here, inside the join: `sole` when its
   * only member makes the call and the join reply tells it so (`inReply`),
   * so neither a decide round trip nor a closed notice stands between a
   * lone request and its call. Without one, it is asked on the next tick
   * (the caller prompts one).
   */
  open(slot: Slot, now: number, inReply: boolean): 'sole' | 'flushed' | undefined {
    const due = this.round.open(slot, now);
    if (!due) return undefined;
    return this.deps.dispatcher.flush(slot, due.reason, now, inReply) === 'sole_in_reply' ? 'sole' : 'flushed';
  }

  /** Whether a slot opening now with this join would be flushed by open() inside the join (DecisionRound.opensDue). */
  opensDue(join: { key: string; route: string; count: number }, now: number): boolean {
    return this.round.opensDue(join.key, join.route, join.count, now);
  }

  /**
   * A slot opened: tick as soon as this I/O turn is over instead of at the
   * next interval. On this VM a 1 ms interval wakes 2-5 ms late at p99, and a
   * new slot's first question (a lone request's only one) waited for it; the
   * joins read in one turn share one tick.
   */
  prompt(): void {
    if (this.prompted) return;
    this.prompted = true;
    setImmediate(() => {
      this.prompted = false;
      this.tick();
    });
  }

  tick(): void {
    const now = this.now();
    const step = this.round.tick(now, this.deps.table.values());
    if (step.late) this.fallbackCause = 'timeout';
    if (step.fallbacks > 0) this.deps.metrics.fallbacks.inc({ reason: this.fallbackCause }, step.fallbacks);
    this.flush(step.flushes, now);
    if (step.question) this.ask(step.question, now);
    this.deps.dispatcher.sendNotices();
  }

  private flush(flushes: readonly Flush<Slot>[], now: number): void {
    for (const { slot, reason } of flushes) this.deps.dispatcher.flush(slot, reason, now);
  }

  private ask(question: Question<Slot>, now: number): void {
    const { bus, metrics, coordinatorId } = this.deps;
    const { slots, features } = question;
    const batch = encodeSlotBatch(features.map((f, i) => ({ slotId: slots[i]!.id, route: slots[i]!.route, features: f })));
    const parent = slots[0]!.contexts[0] ?? context.active();
    const span = tracer.startSpan('coordinator.decide', { attributes: { 'batchgate.slots': slots.length } }, parent);
    const started = now;
    bus
      .request(
        SUBJECTS.decide,
        DecideRequestSchema,
        { coordinatorId, slots: batch },
        DecideReplySchema,
        this.round.giveUpMs,
        trace.setSpan(parent, span),
      )
      .then((reply) => {
        const at = this.now();
        metrics.decideLatency.observe((at - started) / 1000);
        this.flush(this.round.answer(question.round, plansOfReply(reply, features), at, openingsOfReply(reply)), at);
      })
      .catch((error: unknown) => {
        this.fallbackCause = requestFailure(error);
        span.recordException(error as Error);
        this.round.fail(question.round, this.fallbackCause, this.now());
      })
      .finally(() => {
        span.end();
        this.deps.dispatcher.sendNotices();
      });
  }
}
