import type { CommonConfig, EnvelopeConfig, RouteTable, StrategySpec } from '#libs/config';
import { commonSection, envelopeSection, httpPortSection, loadRoutes, readConfig, strategySection } from '#libs/config';
import { checkStrategySetting } from '#libs/policy';

export interface PolicyConfig extends CommonConfig {
  httpHost: string;
  httpPort: number;
  /** Strategy for routes that do not name one (the KV document's defaultPolicy overrides it). */
  defaultStrategy: StrategySpec;
  /** Routes until the KV document exists. */
  routes: RouteTable;
  envelope: EnvelopeConfig;
  /** ONNX model loaded at start (before any model is published to the object store); '' when set to "none". */
  modelFile: string;
  /** Q table for the qlearning strategy; empty = none. */
  qTableFile: string;
  /** Decisions a newly published model runs in shadow before it takes over. */
  shadowDecisions: number;
  /** Promotion gate: how much larger a shadowed model's share of slots left to the envelope may be than the live one's. */
  shadowEnvelopeMargin: number;
  /** Share of decide requests recorded as slot.decided events (1 = every decision, for training). */
  decisionEventSample: number;
}

export const POLICY_CONFIG = Symbol('POLICY_CONFIG');

/** "none" turns a bundled artifact off. */
const noneAsEmpty = (value: string): string => (value === 'none' ? '' : value);

export function loadPolicyConfig(env: NodeJS.ProcessEnv): PolicyConfig {
  const config = readConfig(env, (r) => ({
    ...commonSection(r, 'policy'),
    ...httpPortSection(r, 0),
    defaultStrategy: strategySection(r, 'BATCHGATE_POLICY_STRATEGY', 'cost_aware'),
    envelope: envelopeSection(r),
    routesFile: r.optionalString('BATCHGATE_ROUTES_FILE'),
    modelFile: noneAsEmpty(r.string('BATCHGATE_POLICY_MODEL', 'fixtures/models/ppo-v3.onnx')),
    qTableFile: noneAsEmpty(r.string('BATCHGATE_QTABLE_FILE', 'fixtures/models/qtable-v1.json')),
    shadowDecisions: r.int('BATCHGATE_SHADOW_DECISIONS', 500, { min: 0, max: 10_000_000 }),
    shadowEnvelopeMargin: r.number('BATCHGATE_SHADOW_ENVELOPE_MARGIN', 0.05, { min: 0, max: 1 }),
    decisionEventSample: r.number('BATCHGATE_DECISION_EVENTS_SAMPLE', 1, { min: 0, max: 1 }),
  }));
  checkStrategySetting('BATCHGATE_POLICY_STRATEGY', config.defaultStrategy);
  const { routesFile, ...rest } = config;
  const routes = loadRoutes(routesFile, config.envelope);
  for (const route of routes.routes) {
    if (route.policy) checkStrategySetting(`BATCHGATE_ROUTES_FILE route "${route.name}" policy`, route.policy);
  }
  return { ...rest, routes };
}
