import { CONFIG_KEYS } from '#libs/nats';
import type { JetStreamProvider } from '#libs/service';
import type { Logger } from '#libs/tracing';
import type { ModelVerdict } from './models.js';

/**
 * The KV value (key policy.verdict.<sha256>) that keeps a model refused: the
 * promotion gate refused it, or it produced NaN in shadow. The pointer
 * (policy.model) still names the model after that, so without this record a
 * restarted replica, or one started later, would shadow it again, or, with
 * no live model to compare with, promote it at once.
 */
export interface ModelVerdictRecord {
  version: string;
  sha256: string;
  outcome: 'refused' | 'dropped';
  reason: string;
  /** Decisions the shadow was compared on. */
  compared: number;
  /** The policy replica (BATCHGATE_INSTANCE_ID) whose gate judged it. */
  replica: string;
  atMs: number;
}

export function parseVerdictRecord(json: unknown): ModelVerdictRecord {
  const { version, sha256, outcome, reason, compared, replica, atMs } = (json ?? {}) as Record<string, unknown>;
  if (typeof version !== 'string' || typeof sha256 !== 'string' || typeof reason !== 'string' || typeof replica !== 'string')
    throw new Error('a model verdict record needs "version", "sha256", "reason" and "replica"');
  if (outcome !== 'refused' && outcome !== 'dropped') throw new Error(`a model verdict record's outcome is "refused" or "dropped"`);
  return { version, sha256, outcome, reason, replica, compared: Number(compared) || 0, atMs: Number(atMs) || 0 };
}

/** How GET /models and the log name a refusal on record. */
export function describeRecord(record: ModelVerdictRecord): string {
  return `${record.outcome} by ${record.replica} at ${new Date(record.atMs).toISOString()}: ${record.reason}`;
}

/** Reads and writes the refusals on record, in the config bucket beside the pointer. */
export class VerdictRecords {
  constructor(
    private readonly jetstream: JetStreamProvider,
    private readonly replica: string,
    private readonly logger: Logger,
  ) {}

  /** Records a refusal or a drop (a promotion is not recorded: the pointer already says which model is live). */
  async record(verdict: ModelVerdict): Promise<void> {
    if (verdict.outcome !== 'refused' && verdict.outcome !== 'dropped') return;
    const record: ModelVerdictRecord = {
      version: verdict.version,
      sha256: verdict.sha256,
      outcome: verdict.outcome,
      reason: verdict.reason,
      compared: verdict.compared,
      replica: this.replica,
      atMs: verdict.atMs,
    };
    try {
      const { config } = await this.jetstream.whenReady();
      await config.put(CONFIG_KEYS.verdict(verdict.sha256), JSON.stringify(record));
    } catch (error) {
      this.logger.error(
        { err: error, version: verdict.version, key: CONFIG_KEYS.verdict(verdict.sha256) },
        'could not record a model refusal: a restarted replica may offer this model again',
      );
    }
  }

  /** The refusal on record for a model, if any (a deleted key clears it; an unreadable one is ignored). */
  async refusal(sha256: string): Promise<ModelVerdictRecord | undefined> {
    const { config } = await this.jetstream.whenReady();
    const entry = await config.get(CONFIG_KEYS.verdict(sha256));
    if (!entry || entry.operation !== 'PUT') return undefined;
    try {
      return parseVerdictRecord(entry.json());
    } catch (error) {
      this.logger.warn({ err: error, key: CONFIG_KEYS.verdict(sha256) }, 'ignoring an invalid model verdict record');
      return undefined;
    }
  }
}
