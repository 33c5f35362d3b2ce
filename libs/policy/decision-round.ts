import { envelopeReason } from './envelope.js';
import type { FeatureBook, OpenSlotView } from './features.js';
import type { OpeningPlan } from './opening.js';
import { OpeningPlans, rateBand } from './opening.js';
import { planDue, plansOf, planValid } from './plan.js';
import { asksAgain, FORGET_EVERY_MS, giveUpAfterMs, POLICY_BACKOFF_MS } from './round-rules.js';
import type { FlushPlan, FlushReason, FlushStrategy, SlotFeatures } from './types.js';

/** How a round ended without an answer: given up (no answer in time), nobody listening, or an error. */
export type RoundFailure = 'timeout' | 'unavailable' | 'error';

export interface DecisionRoundOptions<S extends object> {
  features: FeatureBook;
  /** The slot as a decider sees it, read now. */
  view: (slot: S) => OpenSlotView;
  /** Whether the slot is still the open one (not flushed, not handed over). */
  isOpen: (slot: S) => boolean;
  /** The embedded strategy: plans for slots the policy has not planned (reason `fallback`). */
  fallback: FlushStrategy;
  random: () => number;
  /** A round unanswered after this long is late: previous plans stay, planless slots fall back. */
  decisionTimeoutMs: number;
  /** A round unanswered after this long is given up and a new one may go (default: giveUpAfterMs). */
  giveUpMs?: number;
  /** Standing opening plans (default: a fresh book with OPENING_PLAN_TTL_MS). */
  openings?: OpeningPlans;
}

/** One slot to flush now and why. */
export interface Flush<S> {
  slot: S;
  reason: FlushReason;
}

/** The question of a round: these slots' features, to be answered with one plan each, in order. */
export interface Question<S> {
  round: number;
  slots: S[];
  features: SlotFeatures[];
}

export interface TickResult<S> {
  flushes: Flush<S>[];
  /** A new round to send, when one may go and some slot needs asking. */
  question: Question<S> | undefined;
  /** The in-flight round went late on this tick. */
  late: boolean;
  /** Slots given the embedded strategy's plan on this tick. */
  fallbacks: number;
}

interface SlotPlan {
  plan: FlushPlan | undefined;
  byPolicy: boolean;
  askedSize: number;
  askedRate: number;
}

interface Round<S> {
  id: number;
  askedAtMs: number;
  slots: S[];
  late: boolean;
}

/**
 * The decision round, pure: one owner of what a tick means, for the
 * coordinator, the ingress's local flusher and the simulator, which keep only
 * timers and I/O and hand it the time. Each tick: the envelope first
 * (size_cap, timeout); then every slot's newest valid plan (reason `policy`,
 * or `fallback` for an embedded plan); then, if no round is in flight, ONE
 * question for the slots that need asking (see asksAgain). An answer applies
 * only to slots still open and is the newest plan even when late. A round
 * past the decision timeout keeps every previous plan in force; only slots
 * with no valid plan get the embedded strategy's, as do all planless slots
 * while the policy is known absent (backoff). Queue depth is one number per
 * tick: waiters in the slots still open once the envelope and plans have run.
 * A slot that opens on a route with a standing opening plan (see open and
 * opening.ts) starts with it and is not asked until its inputs change.
 */
export class DecisionRound<S extends object> {
  private readonly plans = new WeakMap<S, SlotPlan>();
  private round: Round<S> | undefined;
  private nextRound = 1;
  private backoffUntilMs = -Infinity;
  private forgetAtMs: number | undefined;
  /** Slots opened on an opening plan past half its life, asked about so it is renewed: one per route and rate band. */
  private readonly renew = new Map<string, S>();
  readonly giveUpMs: number;
  readonly openings: OpeningPlans;

  constructor(private readonly options: DecisionRoundOptions<S>) {
    this.giveUpMs = options.giveUpMs ?? giveUpAfterMs(options.decisionTimeoutMs);
    this.openings = options.openings ?? new OpeningPlans();
  }

  /**
   * A slot just opened (its opening join counted): it starts with its route's
   * standing opening plan for its key's rate, if one is known, as a policy
   * plan made for a slot of size 1, so it is not asked until a waiter joins
   * or the rate moves. Returns the flush when that plan says "now" (reason
   * `policy`). Without one, the slot is asked on the next tick, as before.
   */
  open(slot: S, nowMs: number): Flush<S> | undefined {
    const v = this.options.view(slot);
    const rate = this.options.features.requestRate(v.key, nowMs);
    const match = this.openings.find(v.route, rate, nowMs);
    if (!match) return undefined;
    this.plans.set(slot, { plan: match.plan, byPolicy: true, askedSize: 1, askedRate: rate });
    const renewKey = `${v.route}\u0000${rateBand(rate)}`;
    if (match.stale && !this.renew.has(renewKey)) this.renew.set(renewKey, slot);
    const ageMs = nowMs - v.openedAtMs;
    return planValid(match.plan, ageMs) && planDue(match.plan, v.size, ageMs) ? { slot, reason: 'policy' } : undefined;
  }

  /**
   * Whether a slot about to open on `route` for `key` with `size` waiters
   * would be flushed by open() at once, read without changing anything: the
   * same opening plan, rate and age open() reads at the same `nowMs`. The
   * coordinator uses it to keep a slot that never outlives its join out of Redis.
   */
  opensDue(key: string, route: string, size: number, nowMs: number): boolean {
    const match = this.openings.find(route, this.options.features.requestRate(key, nowMs), nowMs);
    return match !== undefined && planValid(match.plan, 0) && planDue(match.plan, size, 0);
  }

  get inFlight(): boolean {
    return this.round !== undefined;
  }

  tick(nowMs: number, open: Iterable<S>): TickResult<S> {
    const { features, view } = this.options;
    const result: TickResult<S> = { flushes: [], question: undefined, late: false, fallbacks: 0 };
    if (this.round && nowMs - this.round.askedAtMs >= this.giveUpMs) this.round = undefined;
    if (this.round && !this.round.late && nowMs - this.round.askedAtMs >= this.options.decisionTimeoutMs) {
      this.round.late = result.late = true;
    }
    const waiting: S[] = [];
    let depth = 0;
    for (const slot of open) {
      const v = view(slot);
      const ageMs = nowMs - v.openedAtMs;
      const reason = envelopeReason({ size: v.size, ageMs, maxBatchSize: v.maxBatchSize, batchTimeoutMs: v.batchTimeoutMs });
      const planned = this.plans.get(slot);
      if (reason) result.flushes.push({ slot, reason });
      else if (planned?.plan && planValid(planned.plan, ageMs) && planDue(planned.plan, v.size, ageMs))
        result.flushes.push({ slot, reason: planned.byPolicy ? 'policy' : 'fallback' });
      else {
        waiting.push(slot);
        depth += v.size;
      }
    }
    this.forgetIdleKeys(nowMs, waiting);
    const canAsk = !this.round && nowMs >= this.backoffUntilMs;
    const fallBack = !canAsk && (nowMs < this.backoffUntilMs || this.round?.late === true);
    const ask: S[] = [];
    const planless: S[] = [];
    for (const slot of waiting) {
      const v = view(slot);
      const planned = this.plans.get(slot);
      const ageMs = nowMs - v.openedAtMs;
      const valid = planned?.plan !== undefined && planValid(planned.plan, ageMs);
      if (canAsk && asksAgain(planned, valid, v.size, features.requestRate(v.key, nowMs))) ask.push(slot);
      else if (fallBack && !valid) planless.push(slot);
    }
    if (planless.length > 0) {
      result.fallbacks = planless.length;
      result.flushes.push(...this.fallBack(planless, nowMs, depth));
    }
    if (canAsk && this.renew.size > 0) {
      // Renewals ride along (their slots are usually flushed already; only the answer's opening plans matter).
      const asked = new Set(ask);
      for (const slot of this.renew.values()) if (!asked.has(slot)) ask.push(slot);
      this.renew.clear();
    }
    if (ask.length > 0) result.question = this.ask(ask, nowMs, depth);
    return result;
  }

  /**
   * The answer to round `round`: one plan per asked slot, in order, and the
   * routes' opening plans for new slots; returns the slots now due. Opening
   * plans are kept even from an answer to a round given up: they are the newest.
   */
  answer(round: number, plans: readonly FlushPlan[], nowMs: number, openings: readonly OpeningPlan[] = []): Flush<S>[] {
    this.openings.learn(openings, nowMs);
    const asked = this.round?.id === round ? this.round : undefined;
    if (!asked) return [];
    this.round = undefined;
    const flushes: Flush<S>[] = [];
    asked.slots.forEach((slot, i) => {
      const plan = plans[i];
      if (!plan || !this.options.isOpen(slot)) return;
      const state = this.plans.get(slot);
      if (state) Object.assign(state, { plan, byPolicy: true });
      const v = this.options.view(slot);
      const ageMs = nowMs - v.openedAtMs;
      if (planValid(plan, ageMs) && planDue(plan, v.size, ageMs)) flushes.push({ slot, reason: 'policy' });
    });
    return flushes;
  }

  /**
   * Round `round` ended without an answer; a policy found absent is not asked
   * again for a while, and its opening plans stop standing: a slot that opens
   * while no policy is there gets the embedded strategy, as before opening
   * plans. A late round (timeout) keeps them, as it keeps the slots' plans.
   */
  fail(round: number, cause: RoundFailure, nowMs: number): void {
    if (this.round?.id !== round) return;
    this.round = undefined;
    if (cause === 'timeout') return;
    this.backoffUntilMs = nowMs + POLICY_BACKOFF_MS;
    this.openings.clear();
  }

  private ask(slots: S[], nowMs: number, depth: number): Question<S> {
    const features = slots.map((slot) => this.featuresOf(slot, nowMs, depth));
    slots.forEach((slot, i) => {
      const state = this.plans.get(slot);
      const asked = { askedSize: features[i]!.size, askedRate: features[i]!.requestRate };
      if (state) Object.assign(state, asked);
      else this.plans.set(slot, { plan: undefined, byPolicy: false, ...asked });
    });
    const id = this.nextRound++;
    this.round = { id, askedAtMs: nowMs, slots, late: false };
    return { round: id, slots, features };
  }

  private fallBack(slots: S[], nowMs: number, depth: number): Flush<S>[] {
    const features = slots.map((slot) => this.featuresOf(slot, nowMs, depth));
    const plans = plansOf(this.options.fallback, features, { random: this.options.random, nowMs });
    const flushes: Flush<S>[] = [];
    slots.forEach((slot, i) => {
      const plan = plans[i]!;
      const f = features[i]!;
      const state = this.plans.get(slot);
      if (state) Object.assign(state, { plan, byPolicy: false });
      else this.plans.set(slot, { plan, byPolicy: false, askedSize: f.size, askedRate: f.requestRate });
      if (planDue(plan, f.size, f.ageMs)) flushes.push({ slot, reason: 'fallback' });
    });
    return flushes;
  }

  private featuresOf(slot: S, nowMs: number, depth: number): SlotFeatures {
    return this.options.features.features(this.options.view(slot), nowMs, depth);
  }

  /** Rate state of idle keys is dropped on a schedule, so memory follows the live key set (keys of open slots stay). */
  private forgetIdleKeys(nowMs: number, open: readonly S[]): void {
    this.forgetAtMs ??= nowMs + FORGET_EVERY_MS;
    if (nowMs < this.forgetAtMs) return;
    this.forgetAtMs = nowMs + FORGET_EVERY_MS;
    const openKeys = new Set<string>();
    for (const slot of open) openKeys.add(this.options.view(slot).key);
    this.options.features.forgetIdleKeys(nowMs, (key) => openKeys.has(key));
  }
}
