import { plansOf } from './plan.js';
import { RATE_CHANGE } from './round-rules.js';
import type { DecisionContext, FlushPlan, FlushStrategy, SlotFeatures } from './types.js';

/**
 * Opening plans: the plan a NEW slot on a route starts with, so a slot never
 * opens planless and a lone request is not held for a decide round trip.
 * Per route AND rate band, because one route holds hot and cold keys and a
 * fresh slot's plan turns on its key's rate: a plan made at rate r stands for
 * keys within x RATE_CHANGE of r, the factor by which the round asks again.
 */

/** How a policy answer names one opening plan: for new slots on `route` whose key arrives at about `requestRate` req/s. */
export interface OpeningPlan {
  route: string;
  requestRate: number;
  plan: FlushPlan;
}

/**
 * A standing opening plan is used for this long after it arrived (wall ms).
 * Two rate time constants (RATE_TAU_MS = 500): the rate it was made at is
 * matched at every use, but the other inputs (queue depth, upstream and
 * client p99) are not, and they drift on that scale. Past half its life a
 * slot that opens on it is also asked about (OpeningMatch.stale), so a quiet
 * route renews its plan without any slot waiting for the answer.
 */
export const OPENING_PLAN_TTL_MS = 1000;

/** Rates below this (req/s) share one band: "nobody is coming" is one input, however it is spelled. */
const MIN_RATE = 0.01;
/** Rate bands kept per route (log_1.25 bands from 0.01 to 10^6 req/s are ~83). */
const MAX_BANDS_PER_ROUTE = 128;
const LOG_CHANGE = Math.log(RATE_CHANGE);

export function rateBand(requestRate: number): number {
  return Math.floor(Math.log(Math.max(requestRate, MIN_RATE)) / LOG_CHANGE);
}

/** A slot just opened with these inputs: size 1, age 0, nobody idle yet. */
export function freshSlot(features: SlotFeatures): SlotFeatures {
  return { ...features, size: 1, ageMs: 0, idleMs: 0 };
}

/**
 * The fresh-slot rows to plan for one route's slots of a decide request: one
 * per rate band present (the first slot of the band gives the inputs), so a
 * round of many slots costs a strategy a few extra rows, not twice as many.
 */
export function openingRows(slots: readonly SlotFeatures[]): SlotFeatures[] {
  const bands = new Map<number, SlotFeatures>();
  for (const slot of slots) {
    const band = rateBand(slot.requestRate);
    if (!bands.has(band)) bands.set(band, freshSlot(slot));
  }
  return [...bands.values()];
}

/** Opening plans from a strategy's plans for the opening rows of one route. */
export function openingsFrom(route: string, rows: readonly SlotFeatures[], plans: readonly FlushPlan[]): OpeningPlan[] {
  return rows.map((row, i) => ({ route, requestRate: row.requestRate, plan: plans[i]! }));
}

/**
 * A strategy's plans for one route's slots and its opening plans for new
 * slots on the route, in ONE call: a strategy with state (latency_aware's
 * multiplier) or a batch cost (a network's forward pass) sees one batch.
 */
export function plansWithOpenings(
  strategy: FlushStrategy,
  route: string,
  slots: readonly SlotFeatures[],
  context: DecisionContext,
): { plans: FlushPlan[]; openings: OpeningPlan[] } {
  const rows = openingRows(slots);
  const all = plansOf(strategy, [...slots, ...rows], context);
  return { plans: all.slice(0, slots.length), openings: openingsFrom(route, rows, all.slice(slots.length)) };
}

interface Standing {
  requestRate: number;
  plan: FlushPlan;
  receivedAtMs: number;
}

/** A standing opening plan found for a new slot, and whether it is old enough to be refreshed. */
export interface OpeningMatch {
  plan: FlushPlan;
  stale: boolean;
}

/** The newest opening plan per route and rate band, as a decider keeps them between answers. */
export class OpeningPlans {
  private readonly routes = new Map<string, Map<number, Standing>>();

  constructor(private readonly ttlMs = OPENING_PLAN_TTL_MS) {}

  learn(openings: readonly OpeningPlan[], nowMs: number): void {
    for (const { route, requestRate, plan } of openings) {
      let bands = this.routes.get(route);
      if (!bands) this.routes.set(route, (bands = new Map<number, Standing>()));
      const band = rateBand(requestRate);
      bands.delete(band);
      bands.set(band, { requestRate, plan, receivedAtMs: nowMs });
      if (bands.size > MAX_BANDS_PER_ROUTE) bands.delete(bands.keys().next().value!);
    }
  }

  /** The plan for a new slot on `route` whose key arrives at `requestRate`: the newest one made within x RATE_CHANGE of it, unexpired. */
  find(route: string, requestRate: number, nowMs: number): OpeningMatch | undefined {
    const bands = this.routes.get(route);
    if (!bands) return undefined;
    const band = rateBand(requestRate);
    const rate = Math.max(requestRate, MIN_RATE);
    let best: Standing | undefined;
    for (const b of [band, band - 1, band + 1]) {
      const standing = bands.get(b);
      if (!standing || nowMs - standing.receivedAtMs >= this.ttlMs) continue;
      const made = Math.max(standing.requestRate, MIN_RATE);
      if (Math.max(made, rate) > Math.min(made, rate) * RATE_CHANGE) continue;
      if (!best || standing.receivedAtMs > best.receivedAtMs) best = standing;
    }
    if (!best) return undefined;
    return { plan: best.plan, stale: nowMs - best.receivedAtMs >= this.ttlMs / 2 };
  }

  clear(): void {
    this.routes.clear();
  }

  /** Routes and bands held (for tests and metrics). */
  get size(): number {
    let total = 0;
    for (const bands of this.routes.values()) total += bands.size;
    return total;
  }
}
