import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EnvelopeConfig, StrategySpec } from '#libs/config';
import { compareWithOnnxRuntime, encodePolicyModel } from '#libs/onnx';
import type { LiveSummary, Scenario, Trace } from '#libs/sim';
import { parseTraceJsonl, summarizeEpisodes, traceFromArrivals } from '#libs/sim';
import { publishModelToFleet } from '../policy/publish.js';
import type { FleetEndpoints, ShadowVerdict } from './fleet-io.js';
import { awaitVerdicts, readArrivals, readEpisodes, readRouteConfig, runningStrategy, switchRoute } from './fleet-io.js';
import type { LearnBudget, RouteLearning } from './learn-route.js';
import { learnRoute } from './learn-route.js';
import { reportMarkdown } from './report.js';

export interface LearnOptions {
  endpoints: FleetEndpoints;
  /** Envelope, tick, upstream model and C; the route config's envelope replaces this one's per route. */
  scenario: Scenario;
  /** Serving strategy when the route config names none (the policy service's BATCHGATE_POLICY_STRATEGY). */
  defaultStrategy: StrategySpec;
  decisionPath: LearnSettingsPath;
  budget: LearnBudget;
  margin: number;
  p99SlackMs: number;
  /** Routes with fewer recorded arrivals are skipped (too little traffic to judge a candidate on). */
  minRequests: number;
  seed: number;
  version: string;
  /** Publish a winning candidate (false: report only). */
  publish: boolean;
  /** How long to wait for the policy replicas' shadow verdict. */
  verdictTimeoutMs: number;
  outDir: string;
  log?: (line: string) => void;
}

type LearnSettingsPath = Parameters<typeof learnRoute>[2]['decisionPath'];

export interface LearnOutcome {
  version: string;
  routes: Array<Omit<RouteLearning, 'network'> & { live?: LiveSummary }>;
  skipped: Array<{ route: string; requests: number; reason: string }>;
  /** The route whose candidate was published (one model serves every ppo route, so at most one per run). */
  published?: { route: string; version: string; sha256: string; onnxMaxAbsDiff: number };
  verdicts: Array<ShadowVerdict | undefined>;
  /** What happened to the route config. */
  switched?: string;
  /** One line: what the run did and why. */
  summary: string;
}

function byRoute(trace: Trace): Map<string, Trace> {
  const arrivals = new Map<string, Array<{ tMs: number; key: string; route: string }>>();
  for (let i = 0; i < trace.t.length; i++) {
    const k = trace.key[i]!;
    const route = trace.routes[k]!;
    const list = arrivals.get(route) ?? [];
    list.push({ tMs: trace.t[i]!, key: trace.keys[k]!, route });
    arrivals.set(route, list);
  }
  return new Map([...arrivals].map(([route, list]) => [route, traceFromArrivals(list)]));
}

/**
 * The learn loop (`npm run policy:learn`): recorded traffic in, per route a
 * candidate trained and judged in the simulator, the best winner published
 * and shadowed live, the route switched only once the policy replicas
 * promoted it; a report in `outDir` (learn.md, learn.json) either way.
 */
export async function runLearn(o: LearnOptions): Promise<LearnOutcome> {
  const log = o.log ?? (() => undefined);
  const arrivalsText = await readArrivals(o.endpoints);
  const trace = parseTraceJsonl(arrivalsText);
  const episodes = await readEpisodes(o.endpoints);
  // The inputs are kept beside the report, so a run can be repeated on exactly what it judged
  // (`policy:learn -- --arrivals <out>/arrivals.jsonl --episodes <out>/episodes.jsonl`).
  await mkdir(o.outDir, { recursive: true });
  await writeFile(join(o.outDir, 'arrivals.jsonl'), arrivalsText);
  await writeFile(join(o.outDir, 'episodes.jsonl'), episodes.map((e) => JSON.stringify(e)).join('\n'));
  const envelope: EnvelopeConfig = { batchTimeoutMs: o.scenario.batchTimeoutMs, maxBatchSize: o.scenario.maxBatchSize };
  const document = await readRouteConfig(o.endpoints, envelope);
  log(`recorded: ${trace.t.length} arrivals on ${trace.keys.length} key(s), ${episodes.length} decision episodes`);
  const learned: Array<RouteLearning & { live?: LiveSummary }> = [];
  const skipped: LearnOutcome['skipped'] = [];
  for (const [route, routeTrace] of byRoute(trace)) {
    if (routeTrace.t.length < o.minRequests) {
      skipped.push({ route, requests: routeTrace.t.length, reason: `fewer than ${o.minRequests} recorded arrivals` });
      continue;
    }
    const config = document?.routes.routes.find((r) => r.name === route);
    const live = episodes.length > 0 ? summarizeEpisodes(route, episodes) : undefined;
    // The recorded origin latency replaces the scenario's when episodes carry it.
    const upstream =
      live && Number.isFinite(live.upstreamMedianMs) ? { ...o.scenario.upstream, baseMs: live.upstreamMedianMs } : o.scenario.upstream;
    const scenario: Scenario = { ...o.scenario, ...(config?.envelope ?? {}), upstream };
    const running = runningStrategy(document, route, o.defaultStrategy);
    if (running.name === 'ppo' || running.name === 'qlearning') {
      skipped.push({
        route,
        requests: routeTrace.t.length,
        reason: `runs the learned ${running.name}: replaying a live model is not supported yet`,
      });
      continue;
    }
    log(`route ${route}: ${routeTrace.t.length} arrivals, running ${running.name}; training (${o.budget.rounds} DAgger rounds)`);
    const learning = learnRoute(route, routeTrace, { ...o, scenario, running, version: `${o.version}-${route}` });
    log(`route ${route}: ${learning.decision.reason}`);
    learned.push({ ...learning, ...(live ? { live } : {}) });
  }
  const winner = learned.filter((l) => l.decision.publish).sort((a, b) => b.decision.saving - a.decision.saving)[0];
  const outcome: LearnOutcome = {
    version: o.version,
    routes: learned.map(({ network: _network, ...rest }) => rest),
    skipped,
    verdicts: [],
    summary: '',
  };
  if (!winner)
    outcome.summary =
      learned.length === 0
        ? 'no route had enough traffic to learn on'
        : `nothing published: ${learned.map((l) => `route ${l.route}: ${l.decision.reason}`).join('; ')}`;
  else if (!o.publish) outcome.summary = `route ${winner.route}'s candidate would be published (publishing is off)`;
  else {
    const version = `${o.version}-${winner.route}`;
    const bytes = encodePolicyModel(winner.network, {
      strategy: 'ppo',
      strategy_params: JSON.stringify(winner.strategyParams),
      version,
      method: 'imitation',
      teacher: winner.teacher,
      training_scenario: `recorded route ${winner.route}`,
    });
    const check = await compareWithOnnxRuntime(bytes, winner.network, 256, 1);
    await mkdir(o.outDir, { recursive: true });
    await writeFile(join(o.outDir, `${version}.onnx`), bytes);
    if (!o.endpoints.natsUrl) throw new Error('publishing needs --nats-url (or --no-publish)');
    const published = await publishModelToFleet(o.endpoints.natsUrl, bytes, version, 'tools/learn');
    outcome.published = { route: winner.route, version, sha256: published.sha256, onnxMaxAbsDiff: check.maxAbsDiff };
    log(`published ${version}; waiting for the policy replicas' shadow verdict`);
    outcome.verdicts = await awaitVerdicts(o.endpoints, version, published.sha256, o.verdictTimeoutMs);
    const promoted = outcome.verdicts.length > 0 && outcome.verdicts.every((v) => v?.outcome === 'promoted');
    if (promoted && document) {
      outcome.switched = await switchRoute(o.endpoints, document, winner.route, { name: 'ppo', params: winner.strategyParams });
      outcome.summary = `published ${version} (saves ${(winner.decision.saving * 100).toFixed(1)} % in replay), promoted by every policy replica; ${outcome.switched}`;
    } else {
      const said = outcome.verdicts.map((v, i) =>
        v ? `${v.outcome}: ${v.reason}` : `replica ${i}: no verdict in ${o.verdictTimeoutMs} ms`,
      );
      outcome.summary = `published ${version} but the route was not switched: ${promoted ? 'no admin API to switch it through' : said.join('; ') || 'no policy replica to ask (--policy-url)'}`;
    }
  }
  log(outcome.summary);
  await mkdir(o.outDir, { recursive: true });
  await writeFile(join(o.outDir, 'learn.json'), JSON.stringify(outcome, null, 2) + '\n');
  await writeFile(join(o.outDir, 'learn.md'), reportMarkdown(outcome));
  return outcome;
}
