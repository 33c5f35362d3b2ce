import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { generateTrace, SCENARIOS, traceToJsonl } from '#libs/sim';
import { integer, loadScenario, UsageError } from '../scenario-args.js';

export const TRACE_HELP = `trace --out <file.jsonl> [--scenario seed-bursty] [--seed 1] [--duration-ms ms]
  Writes a scenario's arrivals in the telemetry export format (for replay, or to compare with recorded traffic).
scenarios
  Lists the built-in scenarios and their parameters.`;

export async function traceCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string', default: 'seed-bursty' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string' },
      'duration-ms': { type: 'string' },
    },
  });
  if (!values.out) throw new UsageError('trace needs --out <file.jsonl>');
  const scenario = await loadScenario(values.scenario, { durationMs: values['duration-ms'] });
  const trace = generateTrace(scenario.traffic, integer('--seed', values.seed));
  await writeFile(values.out, traceToJsonl(trace));
  console.log(`wrote ${trace.t.length} arrivals on ${trace.keys.length} key(s) to ${values.out}`);
}

export function scenariosCommand(): void {
  for (const s of Object.values(SCENARIOS)) {
    console.log(
      `${s.name}\n  ${s.description}\n  C = ${s.callCostMs} request-ms, envelope ${s.batchTimeoutMs} ms / ${s.maxBatchSize}, tick ${s.tickMs} ms`,
    );
    console.log(`  traffic ${JSON.stringify(s.traffic)}\n  upstream ${JSON.stringify(s.upstream)}\n`);
  }
}
