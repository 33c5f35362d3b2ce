import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { fitOnOff, parseEpisodesJsonl, parseTraceJsonl, summarizeEpisodes, traceDurationMs } from '#libs/sim';
import { DEFAULT_PPO_MODEL, DEFAULT_QTABLE, resolvePolicies, SEED_ROWS } from '../policies.js';
import { list, loadScenario, seedList, UsageError } from '../scenario-args.js';
import { decisionPathOption, EVAL_OPTIONS, runEvaluation } from './eval.js';
import { fittedScenario } from './fit.js';

export const REPLAY_HELP = `replay <trace.jsonl> [--scenario seed-bursty|<file.json>] [--policies ...] [--policy spec]... [--seeds 1] [--call-cost ms]
     [--decision-delay p50=..,p99=..,late=..] [--fallback spec] [--episodes episodes.jsonl] [--out dir]
  Counterfactual on recorded traffic (the telemetry service's JSONL export: {"t_ms","key","route"} per arrival):
  what each policy, and the oracle, would have done. The scenario supplies the envelope, the upstream model and the price C.
  --episodes: the telemetry service's decision episodes of the same traffic (/export/episodes.jsonl): what the fleet
  actually did per route (flush reasons, batch sizes, deciders, origin latency) is printed beside the counterfactual.`;

export async function replayCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string', default: 'seed-bursty' },
      seeds: { type: 'string', default: '1' },
      policies: { type: 'string', default: SEED_ROWS.join(',') },
      policy: { type: 'string', multiple: true },
      ppo: { type: 'string', default: DEFAULT_PPO_MODEL },
      qtable: { type: 'string', default: DEFAULT_QTABLE },
      'call-cost': { type: 'string' },
      'decision-delay': { type: 'string' },
      fallback: { type: 'string', default: EVAL_OPTIONS.fallback.default },
      episodes: { type: 'string' },
      out: { type: 'string' },
    },
    allowPositionals: true,
  });
  const path = positionals[0];
  if (!path) throw new UsageError('replay needs a trace file (JSON Lines: {"t_ms": ..., "key": ..., "route": ...})');
  const trace = parseTraceJsonl(await readFile(path, 'utf8'));
  const base = await loadScenario(values.scenario, { callCostMs: values['call-cost'] });
  // With --policy bayes a one-key trace gets its on-off traffic fitted, so the Bayes policy plans for
  // the recorded traffic, not the base scenario's (fitted on the same arrivals it is replayed on).
  const names = [...list(values.policies), ...(values.policy ?? [])];
  const wantsBayes = names.some((name) => name === 'bayes' || name.startsWith('bayes:'));
  const fitted =
    wantsBayes && trace.keys.length === 1 && trace.t.length >= 10
      ? fittedScenario(base, trace, fitOnOff(trace, { tickMs: base.tickMs }), basename(path))
      : undefined;
  const scenario = {
    ...base,
    ...(fitted
      ? { traffic: fitted.traffic }
      : { traffic: { ...base.traffic, popularity: { kind: 'zipf' as const, keys: trace.keys.length, exponent: 1 } } }),
    name: `replay:${basename(path)}`,
    description: `${trace.t.length} recorded arrivals over ${(traceDurationMs(trace) / 1000).toFixed(1)} s on ${trace.keys.length} key(s); envelope, upstream model and C from ${base.name}.${fitted ? ` ${fitted.description}` : ''}`,
  };
  const policies = await resolvePolicies(names, scenario, {
    ppo: values.ppo,
    qtable: values.qtable,
  });
  const decisionPath = decisionPathOption(values['decision-delay'], values.fallback);
  if (values.episodes) {
    const episodes = parseEpisodesJsonl(await readFile(values.episodes, 'utf8'));
    for (const route of new Set(episodes.map((e) => e.route))) {
      const live = summarizeEpisodes(route, episodes);
      const reasons = Object.entries(live.byReason).map(([reason, n]) => `${reason} ${n}`);
      console.log(
        `live, route ${route}: ${live.flushes} flushes (${reasons.join(', ')}), mean batch ${live.meanBatch.toFixed(1)}, ` +
          `envelope ${(live.forcedShare * 100).toFixed(1)} %, decided by ${live.deciders.join(', ') || 'nobody'}, origin median ${live.upstreamMedianMs.toFixed(1)} ms`,
      );
    }
  }
  await runEvaluation(
    scenario,
    policies,
    seedList(values.seeds),
    values.out ?? join('.run', 'sim', `replay-${basename(path)}`),
    trace,
    decisionPath,
  );
}
