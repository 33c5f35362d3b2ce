import type { Logger } from '#libs/tracing';
import type { JetStreamProvider } from './jetstream.provider.js';

export interface LiveValue<T> {
  value: T;
  revision: number;
}

/**
 * Follows one key of the config bucket: every replica sees each new revision.
 * A revision that does not parse is logged and skipped, so a bad value can
 * never be half-applied; the last good value stays in force.
 */
export class LiveConfig<T> {
  current: LiveValue<T> | undefined;
  rejected = 0;
  private stopped = false;
  private stop: (() => void) | undefined;

  constructor(
    private readonly jetstream: JetStreamProvider,
    private readonly key: string,
    private readonly parse: (json: unknown) => T,
    private readonly apply: (value: T, revision: number) => void | Promise<void>,
    private readonly logger: Logger,
    private readonly onReject?: () => void,
  ) {}

  start(): void {
    void this.follow().catch((error: unknown) => this.logger.error({ err: error, key: this.key }, 'config watch ended'));
  }

  close(): void {
    this.stopped = true;
    this.stop?.();
  }

  private async follow(): Promise<void> {
    const { config } = await this.jetstream.whenReady();
    if (this.stopped) return;
    const watch = await config.watch({ key: this.key });
    this.stop = () => watch.stop();
    for await (const entry of watch) {
      if (entry.operation !== 'PUT') continue;
      let value: T;
      try {
        value = this.parse(JSON.parse(entry.string()));
      } catch (error) {
        this.rejected++;
        this.onReject?.();
        this.logger.error({ err: error, key: this.key, revision: entry.revision }, 'ignoring an invalid config revision');
        continue;
      }
      this.current = { value, revision: entry.revision };
      await this.apply(value, entry.revision);
      this.logger.info({ key: this.key, revision: entry.revision }, 'config revision applied');
    }
  }
}
