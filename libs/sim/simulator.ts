import type { FlushReason, FlushStrategy, PolicyDecision, SlotFeatures } from '#libs/policy';
import { envelopeReason, FeatureBook, RATE_TAU_MS } from '#libs/policy';
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

const FORGET_EVERY_MS = 10_000;

/** A decision round whose answer is on its way (only with a decision path). */
interface PendingRound {
  dueAtMs: number;
  late: boolean;
  slots: OpenSlot[];
  features: SlotFeatures[];
  decisions: PolicyDecision[];
}

/**
 * Discrete-event run of the live coordinator loop over a trace: one slot per
 * key, arrivals join or open it, and on every tick the envelope is checked
 * first and the strategy is asked once for all remaining open slots. A flush
 * is one upstream call whose answer reaches every member when it completes.
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
  let forgetAt = FORGET_EVERY_MS;
  let pending: PendingRound | undefined;
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

  const flush = (slot: OpenSlot, reason: FlushReason, features: SlotFeatures | undefined) => {
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
    if (observer.flushed) observer.flushed(batch, features ?? book.features(view(slot), now, 0));
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
    } else open.set(key, { key, openedAtMs: t, lastArrivalMs: t, members: [i] });
  };

  const decide = () => {
    const asked: OpenSlot[] = [];
    for (const slot of open.values()) {
      const reason = envelopeReason({
        size: slot.members.length,
        ageMs: now - slot.openedAtMs,
        maxBatchSize: config.maxBatchSize,
        batchTimeoutMs: config.batchTimeoutMs,
      });
      if (reason) flush(slot, reason, undefined);
      else asked.push(slot);
    }
    if (asked.length === 0 || pending) return;
    const features = featuresOf(asked);
    context.nowMs = now;
    const decisions = strategy.decide(features, context);
    observer.decided?.(
      asked.map((slot) => slot.key),
      features,
      decisions,
      now,
    );
    if (!config.decisionPath) return apply(asked, features, decisions, 'policy');
    const timing = replyTiming(config.decisionPath, replies!);
    pending = { dueAtMs: now + timing.afterMs, late: timing.late, slots: asked, features, decisions };
  };

  const featuresOf = (slots: readonly OpenSlot[]) => {
    const depth = slots.reduce((sum, slot) => sum + slot.members.length, 0);
    return slots.map((slot) => book.features(view(slot), now, depth));
  };

  const apply = (slots: readonly OpenSlot[], features: SlotFeatures[], decisions: PolicyDecision[], reason: FlushReason) => {
    slots.forEach((slot, i) => {
      if (decisions[i]!.action === 'flush') flush(slot, reason, features[i]);
    });
  };

  /** The pending round's answer arrives (or its deadline passes) at `atMs`, between ticks. */
  const answer = (round: PendingRound, atMs: number) => {
    pending = undefined;
    const tickNow = now;
    now = atMs;
    // A slot flushed meanwhile (by the envelope) is no longer the open one for its key.
    const stillOpen = (slot: OpenSlot) => open.get(slot.key) === slot;
    if (!round.late) {
      const kept = round.slots.map((slot, i) => [slot, i] as const).filter(([slot]) => stillOpen(slot));
      apply(
        kept.map(([slot]) => slot),
        kept.map(([, i]) => round.features[i]!),
        kept.map(([, i]) => round.decisions[i]!),
        'policy',
      );
    } else {
      const slots = round.slots.filter(stillOpen);
      const features = featuresOf(slots);
      context.nowMs = now;
      apply(slots, features, config.decisionPath!.fallback.decide(features, context), 'fallback');
    }
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
    if (now >= forgetAt) {
      const openKeys = new Set([...open.keys()].map((k) => trace.keys[k]));
      book.forgetIdleKeys(now, (key) => openKeys.has(key));
      forgetAt = now + FORGET_EVERY_MS;
    }
    tick++;
  }
  while (completions.length > 0) complete(completions[0]!);
  return result;
}
