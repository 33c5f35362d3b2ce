import type { RunMetrics } from '#libs/sim';

export interface PublishDecision {
  publish: boolean;
  /** One sentence with the numbers it was decided on. */
  reason: string;
  /** Share of the running strategy's cost per request the candidate would save (negative: it costs more). */
  saving: number;
}

export interface JudgedRow {
  label: string;
  metrics: RunMetrics;
  costPerRequest: number;
}

export interface GateSettings {
  /** Required saving of cost per request, as a share (0.05 = 5 %). */
  margin: number;
  /** Allowed p99 excess over the running strategy (ms). */
  p99SlackMs: number;
  /** Allowed excess share of envelope (timeout / size cap) flushes, absolute (default 0.01 = 1 pp, the forced-flush bar). */
  forcedSlack?: number;
}

const pct = (share: number) => `${(share * 100).toFixed(1)} %`;
const ms = (value: number) => `${value.toFixed(1)} ms`;

/**
 * Whether a candidate beats the running strategy on the same counterfactual
 * replay by enough to be worth a live shadow: C * calls + waits per request
 * at least `margin` lower (5 % by default: below that, a replay of a few tens
 * of seconds of traffic cannot tell the two apart from the noise of the next
 * recording), p99 no worse (within one tick), and no more envelope flushes
 * (a policy that leaves slots to the timeout is the failure seed 000's live
 * agent showed: 3 of 14,458 flushes its own). Anything not finite is refused.
 */
export function publishDecision(candidate: JudgedRow, running: JudgedRow, g: GateSettings): PublishDecision {
  const finite = [candidate.costPerRequest, candidate.metrics.p99, candidate.metrics.forcedFlushRate].every(Number.isFinite);
  if (!finite) return { publish: false, reason: `${candidate.label} has non-finite results (cost, p99 or forced share)`, saving: NaN };
  const saving = running.costPerRequest > 0 ? 1 - candidate.costPerRequest / running.costPerRequest : 0;
  const costs = `${candidate.costPerRequest.toFixed(2)} vs ${running.costPerRequest.toFixed(2)} request-ms per request`;
  if (saving < g.margin)
    return {
      publish: false,
      reason: `${candidate.label} saves ${pct(saving)} of the running strategy's cost (${costs}), below the ${pct(g.margin)} margin`,
      saving,
    };
  if (candidate.metrics.p99 > running.metrics.p99 + g.p99SlackMs)
    return {
      publish: false,
      reason: `${candidate.label} saves ${pct(saving)} (${costs}) but its p99 ${ms(candidate.metrics.p99)} is worse than the running ${ms(running.metrics.p99)} (+${ms(g.p99SlackMs)} allowed)`,
      saving,
    };
  const forcedSlack = g.forcedSlack ?? 0.01;
  if (candidate.metrics.forcedFlushRate > running.metrics.forcedFlushRate + forcedSlack)
    return {
      publish: false,
      reason: `${candidate.label} saves ${pct(saving)} (${costs}) but leaves ${pct(candidate.metrics.forcedFlushRate)} of flushes to the envelope (running: ${pct(running.metrics.forcedFlushRate)}, +${pct(forcedSlack)} allowed)`,
      saving,
    };
  return {
    publish: true,
    reason: `${candidate.label} saves ${pct(saving)} (${costs}) at p99 ${ms(candidate.metrics.p99)} vs ${ms(running.metrics.p99)}, envelope flushes ${pct(candidate.metrics.forcedFlushRate)} vs ${pct(running.metrics.forcedFlushRate)}`,
    saving,
  };
}
