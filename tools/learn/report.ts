import type { LearnOutcome } from './learn.js';

const pct = (share: number) => `${(share * 100).toFixed(1)} %`;
const num = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : String(value));

/** The learn run as markdown: per route the replay table, the gap to the oracle, the decision and the live verdict. */
export function reportMarkdown(outcome: LearnOutcome): string {
  const lines = [`# policy:learn ${outcome.version}`, '', outcome.summary, ''];
  for (const route of outcome.routes) {
    const running = route.rows.find((r) => r.role === 'running')!;
    const candidate = route.rows.find((r) => r.role === 'candidate')!;
    const oracle = route.rows.find((r) => r.role === 'oracle')!;
    const best = route.rows.filter((r) => r.role === 'baseline').sort((a, b) => a.costPerRequest - b.costPerRequest)[0];
    lines.push(
      `## route ${route.route}`,
      '',
      `${route.requests} recorded arrivals on ${route.keys} key(s) over ${(route.durationMs / 1000).toFixed(1)} s. ${route.traffic}`,
      '',
      `Candidate: DAgger imitation of the ${route.teacher}; ${route.training.budget.rounds} rounds x ${route.training.budget.epochs} epochs on ${route.training.episodes} episodes ` +
        `(${route.training.history.at(-1)?.samples ?? 0} labelled decisions, last-round agreement ${pct(route.training.history.at(-1)?.agreement ?? 0)}), ` +
        'trained and replayed with the live decide round trip (plans, answered late or not at all as measured).',
      '',
      '| policy | reduction | p50 ms | p99 ms | envelope flushes | cost / request | gap to oracle |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...route.rows.map(
        (r) =>
          `| ${r.role === 'candidate' || r.role === 'running' ? `**${r.label}**` : r.label} | ${pct(r.metrics.reduction)} | ${num(r.metrics.p50)} | ${num(r.metrics.p99)} | ${pct(r.metrics.forcedFlushRate)} | ${num(r.costPerRequest, 2)} | ${pct(r.gapToOracle)} |`,
      ),
      '',
      `On this traffic the candidate would have ${route.decision.saving >= 0 ? 'saved' : 'cost'} ${pct(Math.abs(route.decision.saving))} of the running strategy's cost ` +
        `(${num(candidate.costPerRequest, 2)} vs ${num(running.costPerRequest, 2)} request-ms per request; C * calls + request-ms waited)` +
        `${best ? `; the best hand-written rule, ${best.label}, costs ${num(best.costPerRequest, 2)}` : ''}; the oracle (hindsight, no causal policy reaches it) ${num(oracle.costPerRequest, 2)}, ` +
        `so the candidate is ${pct(candidate.gapToOracle)} above it.`,
      '',
      `Decision: **${route.decision.publish ? 'publish' : 'do not publish'}**: ${route.decision.reason}.`,
      '',
    );
    if (route.live) {
      const reasons = Object.entries(route.live.byReason)
        .map(([reason, n]) => `${reason} ${n}`)
        .join(', ');
      lines.push(
        `Live (recorded decision episodes): ${route.live.flushes} flushes (${reasons}), mean batch ${num(route.live.meanBatch)}, ` +
          `envelope share ${pct(route.live.forcedShare)}, decided by ${route.live.deciders.join(', ') || 'nobody'}, origin median ${num(route.live.upstreamMedianMs)} ms.`,
        '',
      );
    }
  }
  for (const s of outcome.skipped) lines.push(`Skipped route ${s.route} (${s.requests} arrivals): ${s.reason}.`, '');
  if (outcome.published) {
    lines.push(
      `## published ${outcome.published.version}`,
      '',
      `sha256 ${outcome.published.sha256.slice(0, 16)}…, onnxruntime vs in-process max abs diff ${outcome.published.onnxMaxAbsDiff.toExponential(2)}.`,
      '',
      ...outcome.verdicts.map(
        (v, i) => `- policy replica ${i}: ${v ? `${v.outcome} after ${v.compared} shadow decisions: ${v.reason}` : 'no verdict in time'}`,
      ),
      '',
      outcome.switched ? `Route config: ${outcome.switched}.` : 'Route config: unchanged.',
      '',
    );
  }
  return lines.join('\n');
}
