import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { OnOffFit, Scenario, Trace } from '#libs/sim';
import { fitOnOff, parseTraceJsonl, traceDurationMs } from '#libs/sim';
import { loadScenario, UsageError } from '../scenario-args.js';

export const FIT_HELP = `fit <trace.jsonl> [--key <coalescing key>] [--scenario seed-bursty|<file.json>] [--out scenario.json]
  Fits on-off bursty traffic (a two-state Markov-modulated Poisson process, by EM) to one key's recorded arrivals
  and prints it; --out writes a scenario with that traffic (envelope, upstream and C from --scenario) for
  eval / train / imitate, e.g. \`imitate --scenario fitted.json --teacher bayes\`. Memory: ~64 bytes per tick
  (an hour of traffic at 1 ms ticks ~ 230 MB); fit a window of a long recording.`;

export async function fitCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { key: { type: 'string' }, scenario: { type: 'string', default: 'seed-bursty' }, out: { type: 'string' } },
    allowPositionals: true,
  });
  const path = positionals[0];
  if (!path) throw new UsageError('fit needs a trace file (JSON Lines: {"t_ms": ..., "key": ..., "route": ...})');
  const trace = parseTraceJsonl(await readFile(path, 'utf8'));
  const key = values.key === undefined ? undefined : trace.keys.indexOf(values.key);
  if (key === -1) throw new UsageError(`key "${values.key}" is not in the trace (keys: ${trace.keys.slice(0, 10).join(', ')}...)`);
  const base = await loadScenario(values.scenario, {});
  const fit = fitOnOff(trace, { tickMs: base.tickMs, ...(key === undefined ? {} : { key }) });
  const scenario = fittedScenario(base, trace, fit, basename(path), key ?? 0);
  console.log(scenario.description);
  if (values.out) {
    await writeFile(values.out, `${JSON.stringify(scenario, null, 2)}\n`);
    console.log(`wrote ${values.out}`);
  }
}

/** The base scenario with its traffic replaced by the fitted on-off process of one key. */
export function fittedScenario(base: Scenario, trace: Trace, fit: OnOffFit, source: string, key = 0): Scenario {
  const m = fit.model;
  const process = {
    kind: 'mmpp' as const,
    baseRatePerSec: m.baseRatePerMs * 1000,
    burstRatePerSec: m.burstRatePerMs * 1000,
    meanBurstMs: m.meanBurstMs,
    meanGapMs: m.meanGapMs,
  };
  return {
    ...base,
    name: `fitted:${source}`,
    description:
      `On-off traffic fitted to ${source} (in-sample when replayed on it; key ${trace.keys[key]}, ${fit.ticks} ticks, ${fit.iterations} EM iterations): ` +
      `${process.burstRatePerSec.toFixed(0)} req/s for Exp(${m.meanBurstMs.toFixed(1)} ms), then ${process.baseRatePerSec.toFixed(2)} req/s ` +
      `for Exp(${m.meanGapMs.toFixed(1)} ms). Envelope, upstream and C from ${base.name}.`,
    traffic: {
      process,
      popularity: { kind: 'single' },
      durationMs: Math.ceil(traceDurationMs(trace)),
      route: trace.routes[key] ?? 'default',
    },
  };
}
