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
  private readonly watches: Array<{ start(): void; close(): void; rejected: number }> = [];

  constructor(
    @Inject(POLICY_CONFIG) private readonly config: PolicyConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly jetstream: JetStreamProvider,
    registry: Registry,
  ) {
    this.metrics = new PolicyMetrics(registry);
    this.models = new ModelRegistry(config.shadowDecisions, this.metrics, logger, config.shadowEnvelopeMargin);
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
      (pointer) => this.fetchModel(pointer),
      this.logger,
    );
    this.watches.push(documents, pointers);
    for (const watch of this.watches) watch.start();
  }

  async onApplicationShutdown(): Promise<void> {
    for (const watch of this.watches) watch.close();
    await this.models.close();
  }

  get rejectedRevisions(): number {
    return this.watches.reduce((sum, watch) => sum + watch.rejected, 0);
  }

  /**
   * Fetches and offers the model a pointer names. A replica that has no live
   * model yet (it just started, and the newest pointer names a bad model)
   * walks back the pointer's history to the newest model that loads.
   */
  private async fetchModel(pointer: ModelPointer): Promise<void> {
    if ((await this.tryPointer(pointer)) || this.models.activeVersion !== undefined) return;
    const { config } = await this.jetstream.whenReady();
    const history: ModelPointer[] = [];
    for await (const entry of await config.history({ key: CONFIG_KEYS.model })) {
      if (entry.operation !== 'PUT') continue;
      try {
        history.push(parseModelPointer(entry.json()));
      } catch {
        // an invalid revision is skipped like the watcher skips it
      }
    }
    for (const older of history.reverse()) {
      if (older.sha256 === pointer.sha256) continue;
      if (await this.tryPointer(older)) {
        this.logger.warn(
          { version: older.version, newest: pointer.version },
          'serving an earlier published model: the newest one does not load',
        );
        return;
      }
    }
  }

  private async tryPointer(pointer: ModelPointer): Promise<boolean> {
    try {
      const { models } = await this.jetstream.whenReady();
      const bytes = await models.getBlob(pointer.object);
      if (!bytes) throw new Error(`object ${pointer.object} is not in the models bucket`);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      if (sha256 !== pointer.sha256) throw new Error(`object ${pointer.object} has sha256 ${sha256}, pointer says ${pointer.sha256}`);
      return await this.models.offer(bytes, pointer.version);
    } catch (error) {
      this.metrics.modelLoadFailures.inc({ reason: 'fetch' });
      this.logger.error({ err: error, version: pointer.version }, 'could not fetch a published model; the current one stays live');
      return false;
    }
  }
}
