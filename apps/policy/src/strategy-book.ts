import type { PolicyDocument, RouteTable, StrategySpec } from '#libs/config';
import type { FlushStrategy, ObservationScale, QTable } from '#libs/policy';
import { createStrategy, isLearnedStrategy, readLearnedSpec } from '#libs/policy';

/**
 * How one route decides: a pure strategy, the PPO actor run by onnxruntime,
 * or a learned strategy whose artifact is missing. A learned entry carries the
 * pure strategy that decides for it when its model cannot answer (counted).
 */
export type BookEntry =
  | { kind: 'strategy'; strategy: FlushStrategy }
  | { kind: 'ppo'; scale: ObservationScale; fallback: FlushStrategy }
  | { kind: 'missing'; strategy: string; fallback: FlushStrategy };

/** Stands in for a learned strategy that cannot answer when the default is learned too. */
const LEARNED_FALLBACK: StrategySpec = { name: 'cost_aware', params: {} };

/**
 * Every route's decider, built in one go from a route table and default
 * strategy: a bad spec throws here, before anything is swapped in, so a
 * configuration is applied whole or not at all. Every route gets its own
 * instances, including routes on the default strategy, so stateful strategies
 * (latency_aware's multiplier) keep separate state per route.
 */
export class StrategyBook {
  private readonly byRoute = new Map<string, BookEntry>();
  private readonly fallbackSpec: StrategySpec;
  /**
   * For a route this revision does not list (an ingress applied a newer
   * document first): one shared default entry until this replica catches up,
   * so names arriving over the bus cannot grow the book.
   */
  private readonly unlisted: BookEntry;

  constructor(
    defaultSpec: StrategySpec,
    routes: RouteTable,
    private readonly qTable: QTable | undefined,
  ) {
    this.fallbackSpec = isLearnedStrategy(defaultSpec.name) ? LEARNED_FALLBACK : defaultSpec;
    this.unlisted = this.entryFor(defaultSpec);
    for (const route of routes.routes) this.byRoute.set(route.name, this.entryFor(route.policy ?? defaultSpec));
  }

  static fromDocument(document: PolicyDocument, envDefault: StrategySpec, qTable: QTable | undefined): StrategyBook {
    return new StrategyBook(document.defaultPolicy ?? envDefault, document.routes, qTable);
  }

  forRoute(route: string): BookEntry {
    return this.byRoute.get(route) ?? this.unlisted;
  }

  /** Learned specs are read by readLearnedSpec, the same function the setting checks use. */
  private entryFor(spec: StrategySpec): BookEntry {
    const learned = readLearnedSpec(spec);
    if (!learned) return { kind: 'strategy', strategy: createStrategy(spec) };
    const fallback = createStrategy(this.fallbackSpec);
    if (learned.name === 'ppo') return { kind: 'ppo', scale: learned.scale, fallback };
    if (!this.qTable) return { kind: 'missing', strategy: 'qlearning', fallback };
    return { kind: 'strategy', strategy: createStrategy(spec, { qTable: this.qTable }) };
  }
}
