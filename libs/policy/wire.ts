import type { DecideReply, MessageInitShape, SlotBatchSchema } from '#libs/contracts';
import { FlushAction } from '#libs/contracts';
import type { OpeningPlan } from './opening.js';
import { planOfVerdict, verdictOf } from './plan.js';
import type { FlushPlan, PolicyDecision, SlotFeatures } from './types.js';

/** One slot to decide, as the coordinator names it. */
export interface SlotToDecide {
  slotId: string;
  route: string;
  features: SlotFeatures;
}

/** The columnar wire form of many slots' features (see SlotBatch in proto/batchgate/v1/policy.proto). */
export function encodeSlotBatch(slots: readonly SlotToDecide[]): MessageInitShape<typeof SlotBatchSchema> {
  const routes: string[] = [];
  const routeIndex = new Map<string, number>();
  const batch = {
    slotIds: new Array<string>(slots.length),
    routes,
    routeIndex: new Array<number>(slots.length),
    size: new Array<number>(slots.length),
    ageMs: new Array<number>(slots.length),
    upstreamP99Ms: new Array<number>(slots.length),
    requestRate: new Array<number>(slots.length),
    queueDepth: new Array<number>(slots.length),
    observedP99Ms: new Array<number>(slots.length),
    idleMs: new Array<number>(slots.length),
    batchTimeoutMs: new Array<number>(slots.length),
    maxBatchSize: new Array<number>(slots.length),
  };
  slots.forEach(({ slotId, route, features: f }, i) => {
    let index = routeIndex.get(route);
    if (index === undefined) routeIndex.set(route, (index = routes.push(route) - 1));
    batch.slotIds[i] = slotId;
    batch.routeIndex[i] = index;
    batch.size[i] = f.size;
    batch.ageMs[i] = f.ageMs;
    batch.upstreamP99Ms[i] = f.upstreamP99Ms;
    batch.requestRate[i] = f.requestRate;
    batch.queueDepth[i] = f.queueDepth;
    batch.observedP99Ms[i] = f.observedP99Ms;
    batch.idleMs[i] = f.idleMs;
    batch.batchTimeoutMs[i] = f.batchTimeoutMs;
    batch.maxBatchSize[i] = f.maxBatchSize;
  });
  return batch;
}

/** Accumulates a DecideReply: plans (and the verdicts they give now) in request order, each tagged with its decider. */
export class DecisionColumns {
  readonly actions: FlushAction[];
  readonly probabilities: number[];
  readonly decider: number[];
  readonly flushAtAgeMs: number[];
  readonly flushAtSize: number[];
  readonly validUntilAgeMs: number[];
  readonly strategies: string[] = [];
  readonly modelVersions: string[] = [];
  readonly openingRoutes: string[] = [];
  readonly openingRequestRate: number[] = [];
  readonly openingFlushAtAgeMs: number[] = [];
  readonly openingFlushAtSize: number[] = [];
  readonly openingValidUntilAgeMs: number[] = [];
  private readonly deciders = new Map<string, number>();

  constructor(count: number) {
    this.actions = new Array<FlushAction>(count).fill(FlushAction.WAIT);
    this.probabilities = new Array<number>(count).fill(0);
    this.decider = new Array<number>(count).fill(0);
    this.flushAtAgeMs = new Array<number>(count).fill(Infinity);
    this.flushAtSize = new Array<number>(count).fill(0);
    this.validUntilAgeMs = new Array<number>(count).fill(Infinity);
  }

  /** Slot `index`'s plan, and as its verdict (actions, for older readers) what the plan says at `features`. */
  setPlan(index: number, plan: FlushPlan, features: SlotFeatures, strategy: string, modelVersion: string): void {
    this.set(index, verdictOf(plan, features), strategy, modelVersion);
    this.flushAtAgeMs[index] = plan.flushAtAgeMs;
    this.flushAtSize[index] = wireSize(plan.flushAtSize);
    this.validUntilAgeMs[index] = plan.validUntilAgeMs;
  }

  /** Opening plans for new slots (see OpeningPlan), appended in the order given. */
  addOpenings(openings: readonly OpeningPlan[]): void {
    for (const { route, requestRate, plan } of openings) {
      this.openingRoutes.push(route);
      this.openingRequestRate.push(requestRate);
      this.openingFlushAtAgeMs.push(plan.flushAtAgeMs);
      this.openingFlushAtSize.push(wireSize(plan.flushAtSize));
      this.openingValidUntilAgeMs.push(plan.validUntilAgeMs);
    }
  }

  set(index: number, decision: PolicyDecision, strategy: string, modelVersion: string): void {
    const key = `${strategy}\u0000${modelVersion}`;
    let id = this.deciders.get(key);
    if (id === undefined) {
      id = this.strategies.push(strategy) - 1;
      this.modelVersions.push(modelVersion);
      this.deciders.set(key, id);
    }
    this.actions[index] = decision.action === 'flush' ? FlushAction.FLUSH : FlushAction.WAIT;
    // A bare verdict as a plan: FLUSH now, or WAIT valid for no age at all (asked again next round).
    this.flushAtAgeMs[index] = decision.action === 'flush' ? 0 : Infinity;
    this.flushAtSize[index] = 0;
    this.validUntilAgeMs[index] = decision.action === 'flush' ? Infinity : 0;
    this.probabilities[index] = decision.probability;
    this.decider[index] = id;
  }
}

/** A plan's size rule on the wire: 0 = none. */
const wireSize = (flushAtSize: number): number => (Number.isFinite(flushAtSize) ? Math.max(1, Math.ceil(flushAtSize)) : 0);

/** The opening plans of a DecideReply (none from a policy replica older than them, or one with columns of unequal length). */
export function openingsOfReply(reply: DecideReply): OpeningPlan[] {
  const n = reply.openingRoutes.length;
  const columns = [reply.openingRequestRate, reply.openingFlushAtAgeMs, reply.openingFlushAtSize, reply.openingValidUntilAgeMs];
  if (columns.some((column) => column.length !== n)) return [];
  return reply.openingRoutes.map((route, j) => ({
    route,
    requestRate: reply.openingRequestRate[j]!,
    plan: {
      flushAtAgeMs: reply.openingFlushAtAgeMs[j]!,
      flushAtSize: reply.openingFlushAtSize[j] === 0 ? Infinity : reply.openingFlushAtSize[j]!,
      validUntilAgeMs: reply.openingValidUntilAgeMs[j]!,
    },
  }));
}

/** Who decided slot i of a reply. */
export function deciderOf(reply: DecideReply, index: number): { strategy: string; modelVersion: string } {
  const id = reply.decider[index] ?? 0;
  return { strategy: reply.strategies[id] ?? '', modelVersion: reply.modelVersions[id] ?? '' };
}

/**
 * The plans of a DecideReply for the slots asked about (`features`, in request
 * order). A reply without plan columns, from a policy replica older than plans,
 * is read as per-round verdicts: FLUSH now, WAIT until the next round.
 */
export function plansOfReply(reply: DecideReply, features: readonly SlotFeatures[]): FlushPlan[] {
  const planned = reply.flushAtAgeMs.length === reply.actions.length;
  return reply.actions.map((action, i) => {
    if (!planned)
      return planOfVerdict({ action: action === FlushAction.FLUSH ? 'flush' : 'wait', probability: 0 }, features[i]?.ageMs ?? 0);
    const size = reply.flushAtSize[i] ?? 0;
    return {
      flushAtAgeMs: reply.flushAtAgeMs[i]!,
      flushAtSize: size === 0 ? Infinity : size,
      validUntilAgeMs: reply.validUntilAgeMs[i] ?? Infinity,
    };
  });
}
