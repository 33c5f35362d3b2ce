import type { CommonConfig, UpstreamConfig } from '#libs/config';
import { commonSection, httpPortSection, readConfig, upstreamSection } from '#libs/config';

export interface WorkerConfig extends CommonConfig, UpstreamConfig {
  httpHost: string;
  httpPort: number;
}

export const WORKER_CONFIG = Symbol('WORKER_CONFIG');

export function loadWorkerConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  return readConfig(env, (r) => ({
    ...commonSection(r, 'worker'),
    ...upstreamSection(r),
    ...httpPortSection(r, 0),
  }));
}
