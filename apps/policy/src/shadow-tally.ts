import type { FlushPlan, SlotFeatures } from '#libs/policy';
import { planDue } from '#libs/policy';
import type { ShadowTally } from './promotion-gate.js';

const flushes = (logits: Float32Array, row: number): boolean => logits[row * 2 + 1]! > logits[row * 2]!;

/**
 * Counts decisions made of `stride` consecutive rows of logits (a plan's
 * projected ages, row 0 now; stride 1: a verdict now): agreement on row 0
 * and, per side, whether no row flushes (the plan leaves the slot to the
 * envelope).
 */
export function tallyLogits(tally: ShadowTally, candidate: Float32Array, live: Float32Array, rows: number, stride: number): number {
  let decisions = 0;
  for (let i = 0; i < rows; i += stride, decisions++) {
    if (flushes(candidate, i) === flushes(live, i)) tally.agreed++;
    if (!anyFlush(candidate, i, stride)) tally.candidateToEnvelope++;
    if (!anyFlush(live, i, stride)) tally.liveToEnvelope++;
  }
  tally.compared += decisions;
  return decisions;
}

/** As tallyLogits against a pure strategy's plans (one per slot) on the slots' projected rows. */
export function tallyPlans(
  tally: ShadowTally,
  candidate: Float32Array,
  slots: readonly SlotFeatures[],
  plans: readonly FlushPlan[],
  stride: number,
): number {
  slots.forEach((slot, s) => {
    const plan = plans[s]!;
    if (flushes(candidate, s * stride) === planDue(plan, slot.size, slot.ageMs)) tally.agreed++;
    if (!anyFlush(candidate, s * stride, stride)) tally.candidateToEnvelope++;
    if (leavesToEnvelope(plan, slot)) tally.liveToEnvelope++;
  });
  tally.compared += slots.length;
  return slots.length;
}

function anyFlush(logits: Float32Array, from: number, count: number): boolean {
  for (let k = 0; k < count; k++) if (flushes(logits, from + k)) return true;
  return false;
}

/**
 * A plan with no flush of its own before the envelope's timeout or size cap. A one-round verdict
 * (WAIT valid until the next round) says nothing about later: not counted, so the live side is never
 * made to look worse than it is.
 */
function leavesToEnvelope(plan: FlushPlan, slot: SlotFeatures): boolean {
  return (
    plan.validUntilAgeMs === Infinity &&
    plan.flushAtAgeMs >= slot.batchTimeoutMs &&
    !(plan.flushAtSize > 0 && plan.flushAtSize < slot.maxBatchSize)
  );
}
