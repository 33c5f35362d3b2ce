import type { Registry } from '#libs/metrics';
import { Counter, Gauge, Histogram } from '#libs/metrics';

/** The policy service's metrics (names from the policy-service issue). */
export class PolicyMetrics {
  readonly decisions: Counter<'strategy' | 'action'>;
  readonly latency: Histogram;
  readonly fallbacks: Counter<'reason'>;
  /** The live model version, as batchgate_policy_model_info and (deprecated, one release) policy_model_version. */
  readonly modelVersion: ModelVersionGauges;
  readonly modelLoadFailures: Counter<'reason'>;
  readonly shadowAgreement: Gauge;
  readonly modelVerdicts: Counter<'outcome'>;
  readonly configRejected: Counter;
  readonly configRevision: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.decisions = new Counter({
      name: 'batchgate_policy_decisions_total',
      help: 'Decisions by strategy and action',
      labelNames: ['strategy', 'action'],
      registers,
    });
    this.latency = new Histogram({
      name: 'batchgate_policy_decision_latency_seconds',
      help: 'Time to decide one batched request (all its slots), inside the policy service',
      buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005],
      registers,
    });
    this.fallbacks = new Counter({
      name: 'batchgate_policy_fallback_total',
      help: 'Slots a learned strategy could not decide (no_model, nan, inference_error); decided by the standard strategy',
      labelNames: ['reason'],
      registers,
    });
    this.modelVersion = new ModelVersionGauges([
      new Gauge({
        name: 'batchgate_policy_model_info',
        help: 'The live policy model: 1 with its version',
        labelNames: ['version'],
        registers,
      }),
      new Gauge({
        name: 'policy_model_version',
        help: 'Deprecated, use batchgate_policy_model_info: 1 for the live policy model version',
        labelNames: ['version'],
        registers,
      }),
    ]);
    this.modelLoadFailures = new Counter({
      name: 'batchgate_policy_model_failures_total',
      help: 'Models rejected at load (invalid, nan) or rolled back',
      labelNames: ['reason'],
      registers,
    });
    this.shadowAgreement = new Gauge({
      name: 'batchgate_policy_model_shadow_agreement',
      help: 'Share of shadow decisions equal to the live model',
      registers,
    });
    this.modelVerdicts = new Counter({
      name: 'batchgate_policy_model_verdicts_total',
      help: 'Shadow runs ended, by outcome (promoted, refused by the promotion gate, dropped for NaN; skipped: a published model not offered, refused before); GET /models says why',
      labelNames: ['outcome'],
      registers,
    });
    this.configRejected = new Counter({
      name: 'batchgate_policy_config_rejected_total',
      help: 'Config revisions ignored as invalid',
      registers,
    });
    this.configRevision = new Gauge({
      name: 'batchgate_policy_config_revision',
      help: 'KV revision of the route document in force (0 = routes file)',
      registers,
    });
  }
}

/** An info metric and its deprecated twin, always written together. */
export class ModelVersionGauges {
  constructor(private readonly gauges: ReadonlyArray<Gauge<'version'>>) {}

  set(labels: { version: string }, value: number): void {
    for (const gauge of this.gauges) gauge.set(labels, value);
  }

  remove(labels: { version: string }): void {
    for (const gauge of this.gauges) gauge.remove(labels);
  }

  /** The info metric's samples (the twin holds the same). */
  get(): ReturnType<Gauge<'version'>['get']> {
    return this.gauges[0]!.get();
  }
}
