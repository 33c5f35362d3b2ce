export interface Stack {
  urls: {
    /** Gateway URLs (client traffic). */
    ingresses: string[];
    /** Each ingress's operator URL (/healthz, /readyz, /metrics, /admin), same order. */
    operators: string[];
    /** Base URL of each ingress's /healthz, /readyz, /metrics: its operator URL (scripts/stack.mjs ingressEndpoints). */
    ingressHealth: string[];
    metrics: string | undefined;
    services: Record<string, string>;
  };
  env: Record<string, string | undefined>;
  logDir: string;
  stop(): Promise<void>;
}
export function startStack(options?: {
  env?: Record<string, string | undefined>;
  runDir?: string;
  log?: (line: string) => void;
  originDelayMs?: number;
  nodeArgs?: string[];
  /** Supervise every process it started (npm start): restart with backoff, stop on a crash loop or exit 78. */
  restart?: boolean;
}): Promise<Stack>;
export const POLICY_NODE_ARGS: string[];
