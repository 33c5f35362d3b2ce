export interface Stack {
  /** ingresses: gateway URLs (client traffic); operators: each ingress's operator URL (/healthz, /readyz, /metrics, /admin), same order. */
  urls: { ingresses: string[]; operators: string[]; metrics: string | undefined; services: Record<string, string> };
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
}): Promise<Stack>;
export const POLICY_NODE_ARGS: string[];
