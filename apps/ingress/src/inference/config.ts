import type { EnvReader } from '#libs/config';

/** Flow B settings of the ingress (README, "Inference batching"). */
export interface IngressInferenceConfig {
  /** Models the /v1 endpoints accept; any other is a 404 in OpenAI's shape. */
  models: string[];
  /** Items one tenant may have waiting on this ingress; past it, 429 + Retry-After. */
  tenantQueue: number;
}

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

export function inferenceSection(r: EnvReader): { inference: IngressInferenceConfig } {
  const models = r
    .string('BATCHGATE_INFERENCE_MODELS', 'sim-embedding,sim-llm')
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  const bad = models.find((m) => !MODEL_NAME.test(m));
  if (models.length === 0 || bad !== undefined) {
    // Reported through the reader with every other bad setting (exit 78).
    r.problem('BATCHGATE_INFERENCE_MODELS', 'a comma-separated list of model names', bad ?? '');
  }
  return { inference: { models, tenantQueue: r.int('BATCHGATE_INFERENCE_TENANT_QUEUE', 256, { min: 1, max: 1_000_000 }) } };
}
