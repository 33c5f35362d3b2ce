import type { CommonConfig, EnvelopeConfig, RouteTable, StrategySpec } from '#libs/config';
import { checkStrategySetting } from '#libs/policy';
import { commonSection, envelopeSection, httpPortSection, loadRoutes, readConfig, strategySection } from '#libs/config';

export interface PolicyConfig extends CommonConfig {
  httpHost: string;
  httpPort: number;
  /** Strategy for routes that do not name one. */
  defaultStrategy: StrategySpec;
  routes: RouteTable;
  envelope: EnvelopeConfig;
}

export const POLICY_CONFIG = Symbol('POLICY_CONFIG');

export function loadPolicyConfig(env: NodeJS.ProcessEnv): PolicyConfig {
  const config = readConfig(env, (r) => ({
    ...commonSection(r, 'policy'),
    ...httpPortSection(r, 0),
    defaultStrategy: strategySection(r, 'BATCHGATE_POLICY_STRATEGY', 'cost_aware'),
    envelope: envelopeSection(r),
    routesFile: r.optionalString('BATCHGATE_ROUTES_FILE'),
  }));
  checkStrategySetting('BATCHGATE_POLICY_STRATEGY', config.defaultStrategy);
  const { routesFile, ...rest } = config;
  const routes = loadRoutes(routesFile, config.envelope);
  for (const route of routes.routes) {
    if (route.policy) checkStrategySetting(`BATCHGATE_ROUTES_FILE route "${route.name}" policy`, route.policy);
  }
  return { ...rest, routes };
}
