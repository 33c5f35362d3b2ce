import type { Registry } from '#libs/metrics';
import { Counter, Gauge, Histogram } from '#libs/metrics';

/** The policy service's metrics (names from the policy-service issue). */
export class PolicyMetrics {
  readonly decisions: Counter<'strategy' | 'action'>;
  readonly latency: Histogram;
  readonly fallbacks: Counter<'reason'>;
  readonly modelVersion: Gauge<'version'>;
  readonly modelLoadFailures: Counter<'reason'>;
  readonly shadowAgreement: Gauge;
  readonly modelVerdicts: Counter<'outcome'>;
  readonly configRejected: Counter;
  readonly configRevision: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.decisions = new Counter({
      name: 'policy_decisions_total',
      help: 'Decisions by strategy and action',
      labelNames: ['strategy', 'action'],
      registers,
    });
    this.latency = new Histogram({
      name: 'policy_decision_latency_seconds',
      help: 'Time to decide one batched request (all its slots), inside the policy service',
      buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005],
      registers,
    });
    this.fallbacks = new Counter({
      name: 'policy_fallback_total',
      help: 'Slots a learned strategy could not decide (no_model, nan, inference_error); decided by the standard strategy',
      labelNames: ['reason'],
      registers,
    });
    this.modelVersion = new Gauge({
      name: 'policy_model_version',
      help: '1 for the live policy model version',
      labelNames: ['version'],
      registers,
    });
    this.modelLoadFailures = new Counter({
      name: 'policy_model_failures_total',
      help: 'Models rejected at load (invalid, nan) or rolled back',
      labelNames: ['reason'],
      registers,
    });
    this.shadowAgreement = new Gauge({
      name: 'policy_model_shadow_agreement',
      help: 'Share of shadow decisions equal to the live model',
      registers,
    });
    this.modelVerdicts = new Counter({
      name: 'policy_model_verdicts_total',
      help: 'Shadow runs ended, by outcome (promoted, refused by the promotion gate, dropped for NaN); GET /models says why',
      labelNames: ['outcome'],
      registers,
    });
    this.configRejected = new Counter({ name: 'policy_config_rejected_total', help: 'Config revisions ignored as invalid', registers });
    this.configRevision = new Gauge({
      name: 'policy_config_revision',
      help: 'KV revision of the route document in force (0 = routes file)',
      registers,
    });
  }
}
