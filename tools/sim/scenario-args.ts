import { readFile } from 'node:fs/promises';
import type { Scenario } from '#libs/sim';
import { SCENARIOS } from '#libs/sim';

/** Options every command shares, already validated. */
export interface CommonOptions {
  scenario: Scenario;
  seeds: number[];
  out: string;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A built-in scenario by name, or a JSON file holding a Scenario. Overrides apply on top. */
export async function loadScenario(
  nameOrPath: string,
  overrides: { callCostMs?: string | undefined; durationMs?: string | undefined },
): Promise<Scenario> {
  let scenario = SCENARIOS[nameOrPath];
  if (!scenario) {
    if (!nameOrPath.endsWith('.json'))
      throw new UsageError(`unknown scenario "${nameOrPath}" (built in: ${Object.keys(SCENARIOS).join(', ')}; or a .json file)`);
    scenario = JSON.parse(await readFile(nameOrPath, 'utf8')) as Scenario;
  }
  const callCostMs = overrides.callCostMs === undefined ? scenario.callCostMs : positive('--call-cost', overrides.callCostMs);
  const durationMs = overrides.durationMs === undefined ? scenario.traffic.durationMs : positive('--duration-ms', overrides.durationMs);
  return { ...scenario, callCostMs, traffic: { ...scenario.traffic, durationMs } };
}

export function positive(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`${flag} must be a positive number (got "${text}")`);
  return value;
}

export function integer(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new UsageError(`${flag} must be a non-negative integer (got "${text}")`);
  return value;
}

export function seedList(text: string): number[] {
  return text.split(',').map((s) => integer('--seeds', s.trim()));
}

export function list(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
