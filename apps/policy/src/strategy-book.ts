import type { PolicyDocument, RouteTable, StrategySpec } from '#libs/config';
import type { FlushStrategy, ObservationScale, QTable } from '#libs/policy';
import { createStrategy, readObservationScale, StrategyConfigError, StrategyParams } from '#libs/policy';

/**
 * How one route decides: a pure strategy, the PPO actor run by onnxruntime,
 * or a learned strategy whose artifact is missing (decided by the fallback, counted).
 */
export type BookEntry =
  { kind: 'strategy'; strategy: FlushStrategy } | { kind: 'ppo'; scale: ObservationScale } | { kind: 'missing'; strategy: string };

/** Used wherever a learned strategy cannot answer (no model yet, inference failed). */
const LEARNED_FALLBACK: StrategySpec = { name: 'cost_aware', params: {} };

function entryFor(spec: StrategySpec, qTable: QTable | undefined): BookEntry {
  if (spec.name === 'ppo') {
    const params = new StrategyParams('ppo', spec.params);
    const scale = readObservationScale(params);
    params.done();
    return { kind: 'ppo', scale };
  }
  if (spec.name === 'qlearning' && !qTable) return { kind: 'missing', strategy: 'qlearning' };
  return { kind: 'strategy', strategy: createStrategy(spec, { qTable }) };
}

/**
 * Every route's decider, built in one go from a route table and default
 * strategy: a bad spec throws here, before anything is swapped in, so a
 * configuration is applied whole or not at all. Instances are per route, so
 * stateful strategies (latency_aware) keep separate state per route.
 */
export class StrategyBook {
  private readonly byRoute = new Map<string, BookEntry>();
  readonly standard: BookEntry;
  /** The non-learned strategy that stands in for a learned one that cannot answer. */
  readonly fallback: FlushStrategy;

  constructor(defaultSpec: StrategySpec, routes: RouteTable, qTable: QTable | undefined) {
    this.standard = entryFor(defaultSpec, qTable);
    const fallbackSpec = defaultSpec.name === 'ppo' || defaultSpec.name === 'qlearning' ? LEARNED_FALLBACK : defaultSpec;
    this.fallback = createStrategy(fallbackSpec);
    for (const route of routes.routes) {
      this.byRoute.set(route.name, route.policy ? entryFor(route.policy, qTable) : this.standard);
    }
  }

  static fromDocument(document: PolicyDocument, envDefault: StrategySpec, qTable: QTable | undefined): StrategyBook {
    return new StrategyBook(document.defaultPolicy ?? envDefault, document.routes, qTable);
  }

  forRoute(route: string): BookEntry {
    return this.byRoute.get(route) ?? this.standard;
  }
}

export { StrategyConfigError };
