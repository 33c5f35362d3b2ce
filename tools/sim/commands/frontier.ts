import { parseArgs } from 'node:util';
import { createStrategy } from '#libs/policy';
import { DEFAULT_PRICES, generateTrace, oracleFrontier, priceForReduction, simConfigOf, simulate, summarize } from '#libs/sim';
import { parseStrategySpec } from '#libs/config';
import { integer, loadScenario, UsageError } from '../scenario-args.js';

export const FRONTIER_HELP = `frontier [--scenario seed-bursty] [--seed 1] [--match <strategy spec> [--within pp]]
  The oracle frontier (reduction and p50 at each price of a call) for one seed's trace; with --match, the price at
  which the oracle saves as many upstream calls as that strategy, or all but --within percentage points of them.`;

export async function frontierCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string', default: 'seed-bursty' },
      seed: { type: 'string', default: '1' },
      match: { type: 'string' },
      within: { type: 'string', default: '0' },
      'duration-ms': { type: 'string' },
    },
  });
  const scenario = await loadScenario(values.scenario, { durationMs: values['duration-ms'] });
  const seed = integer('--seed', values.seed);
  const trace = generateTrace(scenario.traffic, seed);
  const config = simConfigOf(scenario, seed);
  console.log(
    `${scenario.name} seed ${seed}: ${trace.t.length} arrivals\n\n     C (req-ms)  reduction   p50 ms   p99 ms  mean wait  cost/req`,
  );
  for (const p of oracleFrontier(trace, config, DEFAULT_PRICES)) {
    const m = p.metrics;
    console.log(
      `${p.callCostMs.toFixed(1).padStart(15)}  ${(m.reduction * 100).toFixed(2).padStart(8)} %  ${m.p50.toFixed(1).padStart(7)}  ${m.p99.toFixed(1).padStart(7)}  ${m.meanWaitMs.toFixed(2).padStart(9)}  ${p.costPerRequest.toFixed(2).padStart(8)}`,
    );
  }
  if (values.match) {
    const spec = parseStrategySpec(values.match);
    if (typeof spec === 'string') throw new UsageError(`--match: ${spec}`);
    const target = summarize(simulate(trace, createStrategy(spec), config)).reduction;
    const within = Number(values.within) / 100;
    const price = priceForReduction(trace, config, target - within);
    const goal = within > 0 ? `within ${values.within} pp of that` : 'as many';
    console.log(
      `\n${values.match} saves ${(target * 100).toFixed(2)} % of calls; the oracle needs C >= ${price.toFixed(0)} request-ms to save ${goal}.`,
    );
  }
}
