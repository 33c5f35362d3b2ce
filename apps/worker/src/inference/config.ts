import type { EnvReader } from '#libs/config';

export const BALANCERS = ['round_robin', 'least_loaded', 'power_of_two'] as const;
export type BalancerName = (typeof BALANCERS)[number];

/** How a worker runs inference batches (Flow B); no backends = this worker takes no inference batches. */
export interface InferenceConfig {
  /** OpenAI-compatible base URLs ending in /v1 (added when missing), without credentials. */
  inferenceBackends: string[];
  /** Sent as `Authorization: Bearer`; never logged, never in a metric or event. */
  inferenceApiKey: string | undefined;
  inferenceBalancer: BalancerName;
  /** Consecutive failures that open a backend's circuit (seed 004: 5). */
  inferenceBreakerFailures: number;
  /** How long an open circuit stays open before one half-open probe (seed 004: 30 s). */
  inferenceBreakerRecoveryMs: number;
  /** One backend call's time limit (a batch deadline that is sooner wins). */
  inferenceTimeoutMs: number;
  /** Further attempts of an idempotent batch, each on a backend not tried yet while there is one. */
  inferenceRetries: number;
  inferenceConnections: number;
}

/**
 * One base URL of BATCHGATE_INFERENCE_UPSTREAM, or why not. Credentials in the
 * URL are refused: the URL is named in results, metrics and logs, the key
 * belongs in BATCHGATE_INFERENCE_API_KEY.
 */
export function backendBaseUrl(entry: string): string | { problem: string } {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return { problem: `"${entry}" is not a URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { problem: `"${entry}" is not http or https` };
  if (url.username || url.password) return { problem: `"${url.host}" carries credentials; set BATCHGATE_INFERENCE_API_KEY instead` };
  if (url.search || url.hash) return { problem: `"${entry}" has a query or fragment` };
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.origin}${path.endsWith('/v1') ? path : `${path}/v1`}`;
}

export function inferenceSection(r: EnvReader): InferenceConfig {
  const name = 'BATCHGATE_INFERENCE_UPSTREAM';
  const text = r.optionalString(name);
  const backends: string[] = [];
  for (const entry of text === undefined ? [] : text.split(',').map((e) => e.trim())) {
    const parsed = entry === '' ? { problem: 'an entry is empty' } : backendBaseUrl(entry);
    if (typeof parsed === 'string') backends.push(parsed);
    else r.problem(name, `one or more comma-separated http(s) base URLs (${parsed.problem})`, text ?? '');
  }
  if (new Set(backends).size !== backends.length) r.problem(name, 'a list without duplicates', text ?? '');
  return {
    inferenceBackends: [...new Set(backends)],
    inferenceApiKey: r.optionalString('BATCHGATE_INFERENCE_API_KEY'),
    inferenceBalancer: r.oneOf('BATCHGATE_INFERENCE_BALANCER', 'least_loaded', BALANCERS),
    inferenceBreakerFailures: r.int('BATCHGATE_INFERENCE_BREAKER_FAILURES', 5, { min: 1, max: 1000 }),
    inferenceBreakerRecoveryMs: r.int('BATCHGATE_INFERENCE_BREAKER_RECOVERY_MS', 30_000, { min: 10, max: 3_600_000 }),
    inferenceTimeoutMs: r.int('BATCHGATE_INFERENCE_TIMEOUT_MS', 30_000, { min: 1, max: 600_000 }),
    inferenceRetries: r.int('BATCHGATE_INFERENCE_RETRIES', 1, { min: 0, max: 10 }),
    inferenceConnections: r.int('BATCHGATE_INFERENCE_CONNECTIONS', 256, { min: 1, max: 10_000 }),
  };
}
