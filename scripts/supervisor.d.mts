import type { ChildProcess } from 'node:child_process';

export const EX_CONFIG: 78;
export const RESTART_POLICY: {
  firstDelayMs: number;
  maxDelayMs: number;
  stableMs: number;
  loopCrashes: number;
  loopWindowMs: number;
};
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string;
export type RestartDecision =
  | { action: 'restart'; delayMs: number; crashes: number[]; streak: number }
  | { action: 'config'; crashes: number[]; streak: number }
  | { action: 'loop'; count: number; crashes: number[]; streak: number };
export function restartDecision(
  input: { crashes: number[]; streak: number; upMs: number; code: number | null; now: number },
  policy?: typeof RESTART_POLICY,
): RestartDecision;
export function supervise(options: {
  name: string;
  logFile: string;
  log: (line: string) => void;
  start: () => Promise<ChildProcess>;
  stopping: () => boolean;
  onStart?: (child: ChildProcess) => void;
  ready?: (child: ChildProcess) => boolean | Promise<boolean>;
}): { watch(child: ChildProcess): void; stop(): void };
