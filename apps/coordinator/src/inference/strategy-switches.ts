import type { StrategySpec } from '#libs/config';
import { formatStrategySpec, parseStrategySpec } from '#libs/config';
import { CONFIG_KEYS } from '#libs/nats';
import { createStrategy, StrategyConfigError } from '#libs/policy';
import type { JetStreamProvider } from '#libs/service';

/**
 * Flow B's strategy switches (POST /admin/strategy/{name}) as one document in
 * the config bucket, beside Flow A's policy routes: every coordinator follows
 * it, so a partition's next owner and a restarted coordinator run the switched
 * strategy instead of BATCHGATE_INFERENCE_STRATEGY.
 */
export interface StrategySwitches {
  /** The switch without ?model=; none = the configured default. */
  default: StrategySpec | undefined;
  models: ReadonlyMap<string, StrategySpec>;
}

export const NO_SWITCHES: StrategySwitches = { default: undefined, models: new Map() };

/** Seed 004's strategy names map to ours: `fixed` waits the full max wait of the priority (fixed_timer without a window). */
const ALIASES: Record<string, string> = { fixed: 'fixed_timer' };

/** A spec as the strategies run it: aliases resolved, validated against the registry (throws StrategyConfigError). */
export function resolveSpec(spec: StrategySpec): StrategySpec {
  const resolved = { name: ALIASES[spec.name] ?? spec.name, params: spec.params };
  createStrategy(resolved);
  return resolved;
}

function specOf(where: string, raw: unknown): StrategySpec {
  if (typeof raw !== 'string') throw new StrategyConfigError(`${where} must be a string like "queue_depth:low=8"`);
  const spec = parseStrategySpec(raw);
  if (typeof spec === 'string') throw new StrategyConfigError(`${where}: ${spec}`);
  return resolveSpec(spec);
}

/** The stored document ({"default": "name:k=v", "models": {"<model>": "name:k=v"}}), validated whole: throws on any bad entry. */
export function parseSwitches(json: unknown): StrategySwitches {
  if (typeof json !== 'object' || json === null) throw new StrategyConfigError('strategy switches must be a JSON object');
  const { default: raw, models = {} } = json as { default?: unknown; models?: unknown };
  if (typeof models !== 'object' || models === null) throw new StrategyConfigError('"models" must map model names to strategies');
  return {
    default: raw === undefined ? undefined : specOf('"default"', raw),
    models: new Map(Object.entries(models).map(([model, spec]) => [model, specOf(`model "${model}"`, spec)])),
  };
}

export function switchesJson(switches: StrategySwitches): Record<string, unknown> {
  return {
    ...(switches.default ? { default: formatStrategySpec(switches.default) } : {}),
    models: Object.fromEntries([...switches.models].map(([model, spec]) => [model, formatStrategySpec(spec)])),
  };
}

/** One switch on top of the others: a model's, or without one the default. */
export function withSwitch(switches: StrategySwitches, spec: StrategySpec, model?: string): StrategySwitches {
  if (model === undefined) return { default: spec, models: switches.models };
  return { default: switches.default, models: new Map([...switches.models, [model, spec]]) };
}

/** Attempts of a compare-and-set before giving up: each lost one means another admin's switch landed in between. */
const CAS_ATTEMPTS = 5;

/**
 * Adds one switch to the stored document by compare-and-set, so two admins
 * switching different models at once both keep theirs. Returns the revision.
 */
export async function storeSwitch(jetstream: JetStreamProvider, spec: StrategySpec, model?: string): Promise<number> {
  const { config } = await jetstream.whenReady();
  for (let attempt = 1; ; attempt++) {
    const entry = await config.get(CONFIG_KEYS.inferenceStrategies);
    const live = entry && entry.operation === 'PUT';
    // A stored document that no longer parses (hand-edited) is replaced rather than blocking every switch.
    let current = NO_SWITCHES;
    if (live) {
      try {
        current = parseSwitches(entry.json());
      } catch {
        current = NO_SWITCHES;
      }
    }
    const next = JSON.stringify(switchesJson(withSwitch(current, spec, model)));
    try {
      return live
        ? await config.update(CONFIG_KEYS.inferenceStrategies, next, entry.revision)
        : await config.create(CONFIG_KEYS.inferenceStrategies, next);
    } catch (error) {
      if (attempt >= CAS_ATTEMPTS) throw error;
    }
  }
}
