import type { RouteTable, StrategySpec } from '#libs/config';
import type { FlushStrategy, StrategyModels } from '#libs/policy';
import { createStrategy } from '#libs/policy';

/**
 * The strategy instance for each route (per-route instances keep stateful
 * strategies like latency_aware independent). Built eagerly, so a bad spec
 * fails at start, not on the first decision.
 */
export class StrategyBook {
  private readonly byRoute = new Map<string, FlushStrategy>();
  readonly fallback: FlushStrategy;

  constructor(defaultSpec: StrategySpec, routes: RouteTable, models: StrategyModels = {}) {
    this.fallback = createStrategy(defaultSpec, models);
    for (const route of routes.routes) {
      this.byRoute.set(route.name, route.policy ? createStrategy(route.policy, models) : createStrategy(defaultSpec, models));
    }
  }

  forRoute(route: string): FlushStrategy {
    return this.byRoute.get(route) ?? this.fallback;
  }
}
