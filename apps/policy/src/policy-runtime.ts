import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parsePolicyDocument } from '#libs/config';
import { Registry } from '#libs/metrics';
import { CONFIG_KEYS } from '#libs/nats';
import { decodePolicyModel } from '#libs/onnx';
import type { QTable } from '#libs/policy';
import { validateQTable } from '#libs/policy';
import { JetStreamProvider, LiveConfig, LOGGER } from '#libs/service';
import type { Logger } from '#libs/tracing';
import type { PolicyConfig } from './config.js';
import { POLICY_CONFIG } from './config.js';
import type { ModelPointer } from './model-pointer.js';
import { parseModelPointer } from './model-pointer.js';
import { ModelRegistry } from './models.js';
import { PolicyMetrics } from './policy-metrics.js';
import { StrategyBook } from './strategy-book.js';
import type { ModelVerdictRecord } from './verdict-records.js';
import { describeRecord, VerdictRecords } from './verdict-records.js';

/** How often a replica looks for a refusal, by another replica, of the model it shadows or serves. */
const REFUSAL_CHECK_MS = 1_000;

/** What trying one published model came to: offered to the registry, not usable, or skipped as refused before. */
type PointerOutcome = 'offered' | 'failed' | 'refused';

function loadQTable(file: string): QTable | undefined {
  if (!file || !existsSync(file)) return undefined;
  const table = JSON.parse(readFileSync(file, 'utf8')) as QTable;
  validateQTable(table);
  return table;
}

/**
 * What the policy service decides with, kept current: the strategy book
 * (rebuilt whole from each valid revision of the KV route document) and the
 * models (each valid revision of the KV model pointer is fetched from the
 * object store and offered to the registry).
 */
@Injectable()
export class PolicyRuntime implements OnModuleInit, OnApplicationShutdown {
  readonly metrics: PolicyMetrics;
  readonly models: ModelRegistry;
  book: StrategyBook;
  private readonly qTable: QTable | undefined;
  private readonly records: VerdictRecords;
  private refusalCheck: NodeJS.Timeout | undefined;
  private checking = false;
  /** Refusals found by checkRefusals, acted on once (a live model with none to go back to stays, and is not re-listed every second). */
  private readonly noted = new Set<string>();
  private readonly watches: Array<{ start(): void; close(): void; rejected: number }> = [];

  constructor(
    @Inject(POLICY_CONFIG) private readonly config: PolicyConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly jetstream: JetStreamProvider,
    registry: Registry,
  ) {
    this.metrics = new PolicyMetrics(registry);
    this.records = new VerdictRecords(jetstream, config.instanceId, logger);
    this.models = new ModelRegistry(config.shadowDecisions, this.metrics, logger, config.shadowEnvelopeMargin, (verdict) => {
      void this.records.record(verdict);
    });
    this.qTable = loadQTable(config.qTableFile);
    this.book = new StrategyBook(config.defaultStrategy, config.routes, this.qTable);
  }

  async onModuleInit(): Promise<void> {
    if (this.config.modelFile && existsSync(this.config.modelFile)) {
      const bytes = new Uint8Array(readFileSync(this.config.modelFile));
      const version = decodePolicyModel(bytes).metadata.version ?? 'bundled';
      await this.models.offer(bytes, version);
    }
    const documents = new LiveConfig(
      this.jetstream,
      CONFIG_KEYS.routes,
      (json) => StrategyBook.fromDocument(parsePolicyDocument(json, this.config.envelope), this.config.defaultStrategy, this.qTable),
      (book, revision) => {
        this.book = book;
        this.metrics.configRevision.set(revision);
      },
      this.logger,
      () => this.metrics.configRejected.inc(),
    );
    const pointers = new LiveConfig(
      this.jetstream,
      CONFIG_KEYS.model,
      parseModelPointer,
      (pointer, revision) => this.fetchModel(pointer, revision),
      this.logger,
    );
    this.watches.push(documents, pointers);
    for (const watch of this.watches) watch.start();
    // Another replica's gate may refuse the model this one shadows or serves. Looked up (at most two KV
    // gets a second, none without a model) rather than watched: with a standing KV watch on
    // policy.verdict.> per replica, test/policy.e2e.ts's frozen-then-SIGKILLed policy process saw the
    // ingress's joins time out (3 runs of 3; cause not found), with this lookup it did not.
    this.refusalCheck = setInterval(() => void this.checkRefusals(), REFUSAL_CHECK_MS);
    this.refusalCheck.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.refusalCheck);
    for (const watch of this.watches) watch.close();
    await this.models.close();
  }

  get rejectedRevisions(): number {
    return this.watches.reduce((sum, watch) => sum + watch.rejected, 0);
  }

  /**
   * Fetches and offers the model a pointer names, unless a refusal of it is
   * on record (verdict-records.ts). When the newest pointer names a refused
   * model, or a bad one while this replica has no live model yet (it just
   * started), it walks back the pointer's earlier revisions to the newest
   * model that is neither refused nor broken.
   */
  private async fetchModel(pointer: ModelPointer, revision: number): Promise<void> {
    const newest = await this.tryPointer(pointer);
    if (newest === 'offered' || (newest === 'failed' && this.models.activeVersion !== undefined)) return;
    const { config } = await this.jetstream.whenReady();
    const history: ModelPointer[] = [];
    for await (const entry of await config.history({ key: CONFIG_KEYS.model })) {
      // Revisions after this one are the watcher's to apply.
      if (entry.operation !== 'PUT' || entry.revision >= revision) continue;
      try {
        history.push(parseModelPointer(entry.json()));
      } catch {
        // an invalid revision is skipped like the watcher skips it
      }
    }
    const tried = new Set([pointer.sha256]);
    for (const older of history.reverse()) {
      if (tried.has(older.sha256)) continue;
      tried.add(older.sha256);
      if ((await this.tryPointer(older)) === 'offered') {
        this.logger.warn(
          { version: older.version, newest: pointer.version },
          newest === 'refused'
            ? 'offering an earlier published model: the newest one was refused'
            : 'serving an earlier published model: the newest one does not load',
        );
        return;
      }
    }
  }

  /**
   * A refusal on record of the model this replica shadows or serves (another replica's gate refused it):
   * the shadow run ends here without a verdict of its own, and a live one gives way to the one it
   * replaced (ModelRegistry.skip), so a model refused anywhere serves nowhere.
   */
  private async checkRefusals(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      for (const sha256 of new Set([this.models.shadowSha256, this.models.activeSha256])) {
        if (sha256 === undefined) continue;
        const record = await this.records.refusal(sha256);
        // Still the one asked about (a verdict may have come meanwhile)?
        if (!record || (this.models.shadowSha256 !== sha256 && this.models.activeSha256 !== sha256)) continue;
        const note = `${sha256}@${record.atMs}`;
        if (this.noted.has(note)) continue;
        this.noted.add(note);
        this.refusedElsewhere(record);
      }
    } catch (error) {
      this.logger.debug({ err: error }, 'could not look for model refusals; next time');
    } finally {
      this.checking = false;
    }
  }

  private refusedElsewhere(record: ModelVerdictRecord): void {
    this.logger.warn({ version: record.version, by: record.replica, why: record.reason }, 'policy model refused by another replica');
    this.models.skip(record.version, record.sha256, describeRecord(record));
  }

  private async tryPointer(pointer: ModelPointer): Promise<PointerOutcome> {
    try {
      const refusal = await this.records.refusal(pointer.sha256);
      if (refusal) {
        this.logger.warn(
          { version: pointer.version, sha256: pointer.sha256, by: refusal.replica, why: refusal.reason },
          'not offering a published model: it was refused before',
        );
        this.models.skip(pointer.version, pointer.sha256, describeRecord(refusal));
        return 'refused';
      }
      const { models } = await this.jetstream.whenReady();
      const bytes = await models.getBlob(pointer.object);
      if (!bytes) throw new Error(`object ${pointer.object} is not in the models bucket`);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      if (sha256 !== pointer.sha256) throw new Error(`object ${pointer.object} has sha256 ${sha256}, pointer says ${pointer.sha256}`);
      return (await this.models.offer(bytes, pointer.version)) ? 'offered' : 'failed';
    } catch (error) {
      this.metrics.modelLoadFailures.inc({ reason: 'fetch' });
      this.logger.error({ err: error, version: pointer.version }, 'could not fetch a published model; the current one stays live');
      return 'failed';
    }
  }
}
