import type { ServiceTimeParams } from './service-time.js';
import { GO_MOCK_DEFAULTS } from './service-time.js';
import { readConfig } from '#libs/config';

export interface BackendConfig {
  host: string;
  port: number;
  model: ServiceTimeParams;
  /**
   * Calls served at once; later ones queue by priority, then FIFO (their wait counts in their
   * latency). 8 = the Go repo's `workers.count`, the parallelism its mock was
   * driven with; it is what makes batching pay: unbatched calls hit this bound first.
   */
  concurrency: number;
  /** Waiting for a slot this long raises a call one priority level (so low is never starved behind critical; 250 ms: a low call outranks a fresh critical one after 750 ms). */
  priorityAgingMs: number;
  seed: number;
  /** Embedding length when the request names no `dimensions`. */
  dimensions: number;
  maxBodyBytes: number;
}

/** `--base-ms=8` on the command line is BATCHGATE_BACKEND_BASE_MS=8 (flags win over env); `--port` is the port. */
export function flagsAsEnv(argv: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const arg of argv) {
    const match = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!match) throw new Error(`unknown argument "${arg}" (flags look like --base-ms=8)`);
    const name =
      match[1]! === 'port' ? 'BATCHGATE_INFERENCE_BACKEND_PORT' : `BATCHGATE_BACKEND_${match[1]!.toUpperCase().replace(/-/g, '_')}`;
    out[name] = match[2]!;
  }
  return out;
}

export function loadBackendConfig(env: NodeJS.ProcessEnv): BackendConfig {
  return readConfig(env, (r) => ({
    host: r.string('BATCHGATE_INFERENCE_BACKEND_HOST', '127.0.0.1'),
    port: r.int('BATCHGATE_INFERENCE_BACKEND_PORT', 9300, { max: 65_535 }),
    model: {
      baseMs: r.number('BATCHGATE_BACKEND_BASE_MS', GO_MOCK_DEFAULTS.baseMs, { min: 0, max: 600_000 }),
      perTokenMs: r.number('BATCHGATE_BACKEND_PER_TOKEN_MS', GO_MOCK_DEFAULTS.perTokenMs, { min: 0, max: 1000 }),
      perMaxTokenMs: r.number('BATCHGATE_BACKEND_PER_MAX_TOKEN_MS', GO_MOCK_DEFAULTS.perMaxTokenMs, { min: 0, max: 1000 }),
      perItemMs: r.number('BATCHGATE_BACKEND_PER_ITEM_MS', GO_MOCK_DEFAULTS.perItemMs, { min: 0, max: 60_000 }),
      variance: r.number('BATCHGATE_BACKEND_VARIANCE', GO_MOCK_DEFAULTS.variance, { min: 0, max: 10 }),
      failureRate: r.number('BATCHGATE_BACKEND_FAILURE_RATE', GO_MOCK_DEFAULTS.failureRate, { min: 0, max: 1 }),
    },
    concurrency: r.int('BATCHGATE_BACKEND_CONCURRENCY', 8, { min: 0, max: 100_000 }),
    priorityAgingMs: r.int('BATCHGATE_BACKEND_PRIORITY_AGING_MS', 250, { min: 1, max: 600_000 }),
    seed: r.int('BATCHGATE_BACKEND_SEED', 1, { min: 0, max: 2 ** 32 - 1 }),
    dimensions: r.int('BATCHGATE_BACKEND_DIMENSIONS', 64, { min: 1, max: 4096 }),
    maxBodyBytes: r.int('BATCHGATE_BACKEND_MAX_BODY_BYTES', 64 * 1024 * 1024, { min: 1024, max: 1024 ** 3 }),
  }));
}
