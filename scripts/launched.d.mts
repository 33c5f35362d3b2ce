import type { ChildProcess } from 'node:child_process';

export interface LaunchedProcess {
  pid: number;
  readyUrl?: string;
  log: string;
}
export interface LaunchedStack {
  child: ChildProcess;
  /** Every line the launcher printed so far. */
  lines: string[];
  runDir: string;
  gatewayPort: number;
  gateways: string[];
  state(): { launcher: number; processes: Record<string, LaunchedProcess> };
  /** The first line matching `pattern` among lines[from...] (now or later); rejects after `ms`. */
  waitForLine(pattern: RegExp, ms?: number, from?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Ctrl-C (SIGINT) to the launcher, waits for it to exit, removes its run directory. */
  stop(): Promise<void>;
}
export function freePortRun(count: number): Promise<number>;
export function launchStack(options?: { env?: Record<string, string>; ingresses?: number; timeoutMs?: number }): Promise<LaunchedStack>;
