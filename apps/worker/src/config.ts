import type { CommonConfig, UpstreamConfig } from '#libs/config';
import { commonSection, httpPortSection, readConfig, upstreamSection } from '#libs/config';
import type { InferenceConfig } from './inference/config.js';
import { inferenceSection } from './inference/config.js';

export interface WorkerConfig extends CommonConfig, UpstreamConfig, InferenceConfig {
  httpHost: string;
  httpPort: number;
  /** How often the worker tells the coordinators which slots it is calling for (their lost-worker check counts on it). */
  heartbeatMs: number;
}

export const WORKER_CONFIG = Symbol('WORKER_CONFIG');

export function loadWorkerConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  return readConfig(env, (r) => ({
    ...commonSection(r, 'worker'),
    ...upstreamSection(r),
    ...httpPortSection(r, 0),
    heartbeatMs: r.int('BATCHGATE_HEARTBEAT_MS', 50, { min: 5, max: 10_000 }),
    ...inferenceSection(r),
  }));
}
