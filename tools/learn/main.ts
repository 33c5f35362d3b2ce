// npm run policy:learn -- [--telemetry-url http://telemetry:9090 | --arrivals a.jsonl [--episodes e.jsonl]]
//   [--admin-url http://ingress-ops:port --admin-token T] [--policy-url http://policy:port]... [--no-publish]
// The learn loop on the fleet's own recorded traffic: per route, fit, train a candidate in the simulator
// with the live decide round trip, replay the same trace against the running strategy, the hand-written
// baselines and the oracle, publish the winner (margin below), shadow it live, switch the route once promoted.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseStrategySpec } from '#libs/config';
import { loadScenario } from '../sim/scenario-args.js';
import { decisionPathOption } from '../sim/commands/eval.js';
import { runLearn } from './learn.js';

export const LEARN_HELP = `policy:learn [--telemetry-url url | --arrivals file.jsonl [--episodes file.jsonl]]
     [--admin-url url --admin-token token (default: BATCHGATE_ADMIN_TOKEN)] [--policy-url url]... [--nats-url url] [--no-publish]
     [--scenario seed-bursty|file.json] [--call-cost ms] [--default-strategy cost_aware] [--margin 0.05] [--p99-slack-ms 1]
     [--rounds 3] [--epochs 4] [--episodes-per-round 3] [--episode-ms 4000] [--min-requests 200]
     [--decision-delay p50=0.4,p99=1.2,late=0.005] [--fallback fixed_timer:window_ms=20] [--verdict-timeout-ms 60000]
     [--version learned-<time>] [--seed 1] [--out .run/learn/<version>]
  Reads the recorded arrivals (and decision episodes) from the telemetry operator port or files; per route fits the
  traffic, trains a candidate (DAgger imitation of the Bayes-optimal causal policy on one-key on-off traffic, else of
  the hindsight oracle's schedule) with the live decide round trip modelled, and replays the same trace under the
  candidate, the route's running strategy (from the route config, via the admin API), fixed timer, cost_aware, the
  threshold rule fitted on the trace, aimd and the oracle. Publishes the candidate only if it costs --margin less
  (C * calls + request-ms waited per request) than the running strategy at no worse p99 and no more envelope flushes;
  waits for the policy replicas to shadow and promote (or refuse) it; switches the route to it once promoted.
  Writes learn.md and learn.json. The defaults train in ~10 s per route on one core.`;

export async function learnCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'telemetry-url': { type: 'string' },
      arrivals: { type: 'string' },
      episodes: { type: 'string' },
      'admin-url': { type: 'string' },
      'admin-token': { type: 'string' },
      'policy-url': { type: 'string', multiple: true },
      'nats-url': { type: 'string' },
      'no-publish': { type: 'boolean', default: false },
      scenario: { type: 'string', default: 'seed-bursty' },
      'call-cost': { type: 'string' },
      'default-strategy': { type: 'string', default: 'cost_aware' },
      margin: { type: 'string', default: '0.05' },
      'p99-slack-ms': { type: 'string', default: '1' },
      rounds: { type: 'string', default: '3' },
      epochs: { type: 'string', default: '4' },
      'episodes-per-round': { type: 'string', default: '3' },
      'episode-ms': { type: 'string', default: '4000' },
      'min-requests': { type: 'string', default: '200' },
      'decision-delay': { type: 'string', default: 'p50=0.4,p99=1.2,late=0.005' },
      fallback: { type: 'string', default: 'fixed_timer:window_ms=20' },
      'verdict-timeout-ms': { type: 'string', default: '60000' },
      version: { type: 'string', default: `learned-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}` },
      seed: { type: 'string', default: '1' },
      out: { type: 'string' },
    },
  });
  const number = (flag: string, min = 0) => {
    const value = Number(values[flag as keyof typeof values]);
    if (!Number.isFinite(value) || value < min)
      throw new Error(`--${flag} must be a number >= ${min} (got "${String(values[flag as keyof typeof values])}")`);
    return value;
  };
  const defaultStrategy = parseStrategySpec(values['default-strategy']);
  if (typeof defaultStrategy === 'string') throw new Error(`--default-strategy: ${defaultStrategy}`);
  const version = values.version;
  if (!/^[A-Za-z0-9._-]+$/.test(version)) throw new Error(`--version must be letters, digits, ".", "_" or "-" (got "${version}")`);
  await runLearn({
    endpoints: {
      ...(values['telemetry-url'] ? { telemetryUrl: values['telemetry-url'] } : {}),
      ...(values.arrivals ? { arrivalsFile: values.arrivals } : {}),
      ...(values.episodes ? { episodesFile: values.episodes } : {}),
      ...(values['admin-url'] ? { adminUrl: values['admin-url'] } : {}),
      ...((values['admin-token'] ?? process.env.BATCHGATE_ADMIN_TOKEN)
        ? { adminToken: values['admin-token'] ?? process.env.BATCHGATE_ADMIN_TOKEN }
        : {}),
      policyUrls: values['policy-url'] ?? [],
      natsUrl: values['nats-url'] ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    },
    scenario: await loadScenario(values.scenario, { callCostMs: values['call-cost'] }),
    defaultStrategy,
    decisionPath: decisionPathOption(values['decision-delay'], values.fallback)!,
    budget: {
      rounds: number('rounds', 1),
      epochs: number('epochs', 1),
      episodes: number('episodes-per-round', 1),
      episodeMs: number('episode-ms', 100),
    },
    margin: number('margin'),
    p99SlackMs: number('p99-slack-ms'),
    minRequests: number('min-requests', 10),
    seed: number('seed'),
    version,
    publish: !values['no-publish'],
    verdictTimeoutMs: number('verdict-timeout-ms'),
    outDir: values.out ?? join('.run', 'learn', version),
    log: (line) => console.log(line),
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    await learnCommand(process.argv.slice(2));
  } catch (error) {
    console.error(`policy:learn: ${(error as Error).message}\n\n${LEARN_HELP}`);
    process.exitCode = 1;
  }
}
