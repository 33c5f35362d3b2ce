import type { Flush, FlushPlan, FlushReason, FlushStrategy, OpeningPlan, PolicyDecision, Question, SlotFeatures } from '#libs/policy';
import { DecisionRound, FeatureBook, plansOf, plansWithOpenings, RATE_TAU_MS, verdictOf } from '#libs/policy';
import { tickIndexAtOrAfter } from './clock.js';
import type { DecisionPath } from './decision-path.js';
import { replyTiming } from './decision-path.js';
import { stream, STREAMS } from './distributions.js';
import type { Trace } from './trace.js';
import type { UpstreamSpec } from './upstream.js';
import { pushMin, popMin, UpstreamModel } from './upstream.js';

export interface SimConfig {
  batchTimeoutMs: number;
  maxBatchSize: number;
  /** The coordinator's decision tick (live default 1 ms). */
  tickMs: number;
  upstream: UpstreamSpec;
  /** Seeds the upstream jitter and the strategy's random source (traffic has its own seed). */
  seed: number;
  rateTauMs?: number;
  /** The decide round trip (delay, one in flight, fallback when late); unset = answered at once. */
  decisionPath?: DecisionPath;
}

/** One upstream call: the slot it served and when. `members` index the trace's arrivals. */
export interface BatchRecord {
  key: number;
  openedAtMs: number;
  flushedAtMs: number;
  reason: FlushReason | 'oracle';
  serviceMs: number;
  members: Int32Array;
}

export interface SimResult {
  batches: BatchRecord[];
  /** Per arrival (trace order): flush time - arrival, and that plus the upstream time. */
  waitMs: Float64Array;
  latencyMs: Float64Array;
  /** How many answers each arrival got (1 for every arrival in a correct run). */
  answers: Uint8Array;
}

/** Side channel for trainers: what the strategy saw and what happened, without changing the loop. */
export interface SimObserver {
  arrival?(key: number, tMs: number): void;
  decided?(keys: readonly number[], features: readonly SlotFeatures[], decisions: readonly PolicyDecision[], nowMs: number): void;
  flushed?(batch: BatchRecord, features: SlotFeatures): void;
}

interface OpenSlot {
  key: number;
  openedAtMs: number;
  lastArrivalMs: number;
  members: number[];
}

/** A decision round whose answer is on its way (only with a decision path). */
interface PendingAnswer {
  dueAtMs: number;
  round: number;
  /** Undefined: the policy stalled and never answers; the round is given up at `dueAtMs`. */
  plans: FlushPlan[] | undefined;
  openings: OpeningPlan[];
}

/**
 * Discrete-event run of the live coordinator loop over a trace: one slot per
 * key, arrivals join or open it, and every tick is the shared DecisionRound
 * (libs/policy: envelope, plans, which slots to ask, one round in flight,
 * late answers). The strategy plays the policy service: it answers each
 * round's question with plans, at once or after the decision path's delay.
 * A flush is one upstream call whose answer reaches every member when it
 * completes. With a decision path, answers also carry each route's opening
 * plans (per route, as the policy service computes them) and a slot opens on
 * its route's, at its first arrival, as the coordinator's joins do; without
 * one, answers are instant and every slot is asked (trainers see them all).
 */
export function simulate(trace: Trace, strategy: FlushStrategy, config: SimConfig, observer: SimObserver = {}): SimResult {
  const n = trace.t.length;
  const book = new FeatureBook(config.rateTauMs ?? RATE_TAU_MS);
  const upstream = new UpstreamModel(config.upstream, stream(config.seed, STREAMS.upstream));
  const context = { random: stream(config.seed, STREAMS.strategy), nowMs: 0 };
  const result: SimResult = {
    batches: [],
    waitMs: new Float64Array(n),
    latencyMs: new Float64Array(n),
    answers: new Uint8Array(n),
  };
  const open = new Map<number, OpenSlot>();
  const completions: number[] = []; // heap of completion times
  const completing = new Map<number, BatchRecord[]>();
  let next = 0;
  let tick = 0;
  let now = 0;
  let pending: PendingAnswer | undefined;
  const replies = config.decisionPath ? stream(config.seed, STREAMS.decisions) : undefined;

  const view = (slot: OpenSlot) => ({
    key: trace.keys[slot.key]!,
    route: trace.routes[slot.key]!,
    openedAtMs: slot.openedAtMs,
    lastArrivalMs: slot.lastArrivalMs,
    size: slot.members.length,
    batchTimeoutMs: config.batchTimeoutMs,
    maxBatchSize: config.maxBatchSize,
  });

  const flush = (slot: OpenSlot, reason: FlushReason) => {
    const serviceMs = upstream.dispatch(now, slot.members.length);
    const batch: BatchRecord = {
      key: slot.key,
      openedAtMs: slot.openedAtMs,
      flushedAtMs: now,
      reason,
      serviceMs,
      members: Int32Array.from(slot.members),
    };
    for (const m of slot.members) {
      result.waitMs[m] = now - trace.t[m]!;
      result.latencyMs[m] = result.waitMs[m] + serviceMs;
    }
    result.batches.push(batch);
    open.delete(slot.key);
    const doneAt = now + serviceMs;
    const list = completing.get(doneAt);
    if (list) list.push(batch);
    else {
      completing.set(doneAt, [batch]);
      pushMin(completions, doneAt);
    }
    if (observer.flushed) observer.flushed(batch, book.features(view(slot), now, 0));
  };

  const complete = (atMs: number) => {
    popMin(completions);
    for (const batch of completing.get(atMs)!) {
      book.recordUpstreamLatency(batch.serviceMs);
      const route = trace.routes[batch.key]!;
      for (const m of batch.members) {
        book.recordClientLatency(route, result.latencyMs[m]!);
        result.answers[m]!++;
      }
    }
    completing.delete(atMs);
  };

  const arrive = (i: number) => {
    const key = trace.key[i]!;
    const t = trace.t[i]!;
    book.recordArrivals(trace.keys[key]!, t);
    observer.arrival?.(key, t);
    const slot = open.get(key);
    if (slot) {
      slot.members.push(i);
      slot.lastArrivalMs = t;
      return;
    }
    const opened = { key, openedAtMs: t, lastArrivalMs: t, members: [i] };
    open.set(key, opened);
    if (config.decisionPath) openOnPlan(opened, t);
  };

  /** The join that opens a slot starts it on its route's opening plan, flushed at once if the plan says so. */
  const openOnPlan = (slot: OpenSlot, atMs: number) => {
    const tickNow = now;
    now = atMs;
    const due = round.open(slot, now);
    if (due) flush(slot, due.reason);
    now = tickNow;
  };

  const round = new DecisionRound<OpenSlot>({
    features: book,
    view,
    isOpen: (slot) => open.get(slot.key) === slot,
    fallback: config.decisionPath?.fallback ?? strategy,
    random: context.random,
    decisionTimeoutMs: config.decisionPath?.timeoutMs ?? Infinity,
  });

  const apply = (flushes: readonly Flush<OpenSlot>[]) => {
    for (const { slot, reason } of flushes) flush(slot, reason);
  };

  /** The policy service's answer: per route, the slots' plans and the route's opening plans, in one strategy call. */
  const plansByRoute = (question: Question<OpenSlot>): { plans: FlushPlan[]; openings: OpeningPlan[] } => {
    const byRoute = new Map<string, number[]>();
    question.slots.forEach((slot, i) => {
      const route = trace.routes[slot.key]!;
      const list = byRoute.get(route);
      if (list) list.push(i);
      else byRoute.set(route, [i]);
    });
    const plans = new Array<FlushPlan>(question.slots.length);
    const openings: OpeningPlan[] = [];
    for (const [route, indexes] of byRoute) {
      const answer = plansWithOpenings(
        strategy,
        route,
        indexes.map((i) => question.features[i]!),
        context,
      );
      indexes.forEach((i, k) => (plans[i] = answer.plans[k]!));
      openings.push(...answer.openings);
    }
    return { plans, openings };
  };

  /** The strategy answers a round's question, as the policy service would. */
  const plan = (question: Question<OpenSlot>): { plans: FlushPlan[]; openings: OpeningPlan[] } => {
    context.nowMs = now;
    const { plans, openings } = config.decisionPath
      ? plansByRoute(question)
      : { plans: plansOf(strategy, question.features, context), openings: [] };
    observer.decided?.(
      question.slots.map((slot) => slot.key),
      question.features,
      plans.map((p, i): PolicyDecision => verdictOf(p, question.features[i]!)),
      now,
    );
    return { plans, openings };
  };

  const decide = () => {
    const step = round.tick(now, open.values());
    apply(step.flushes);
    if (!step.question) return;
    const { plans, openings } = plan(step.question);
    if (!config.decisionPath) return apply(round.answer(step.question.round, plans, now));
    const timing = replyTiming(config.decisionPath, replies!);
    pending =
      timing.stalled || timing.afterMs >= round.giveUpMs
        ? { dueAtMs: now + round.giveUpMs, round: step.question.round, plans: undefined, openings: [] }
        : { dueAtMs: now + timing.afterMs, round: step.question.round, plans, openings };
  };

  /** The pending round's answer arrives (or it is given up) at `atMs`, between ticks. */
  const answer = (reply: PendingAnswer, atMs: number) => {
    pending = undefined;
    const tickNow = now;
    now = atMs;
    if (reply.plans) apply(round.answer(reply.round, reply.plans, now, reply.openings));
    else round.fail(reply.round, 'timeout', now);
    now = tickNow;
  };

  while (next < n || open.size > 0) {
    if (open.size === 0) tick = Math.max(tick, tickIndexAtOrAfter(trace.t[next]!, config.tickMs));
    now = tick * config.tickMs;
    for (;;) {
      const arrivalAt = next < n ? trace.t[next]! : Infinity;
      const completionAt = completions.length > 0 ? completions[0]! : Infinity;
      const answerAt = pending ? pending.dueAtMs : Infinity;
      if (Math.min(arrivalAt, completionAt, answerAt) > now) break;
      if (answerAt < arrivalAt && answerAt < completionAt) answer(pending!, answerAt);
      else if (completionAt < arrivalAt) complete(completionAt);
      else arrive(next++);
    }
    decide();
    tick++;
  }
  while (completions.length > 0) complete(completions[0]!);
  return result;
}
