import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Inject, Injectable } from '@nestjs/common';
import { JETSTREAM } from '#libs/nats';
import { JetStreamProvider, LOGGER } from '#libs/service';
import type { Logger } from '#libs/tracing';
import type { ConsumerMessages } from '@nats-io/jetstream';
import { DeliverPolicy } from '@nats-io/jetstream';
import type { TelemetryConfig } from './config.js';
import { TELEMETRY_CONFIG } from './config.js';
import { EpisodeBook } from './episodes.js';
import { EPISODE_STEPS, EventLogReader, loggedEvent } from './event-log.js';

/**
 * Builds the decision episodes (episodes.ts) with its own ordered consumer of
 * the event stream, from its first message, through the same reader as the
 * Recorder and `npm run telemetry:rebuild` (once per event id, known schemas
 * only): kept apart from the Recorder (its own state, its own failure), and
 * turning episodes off (BATCHGATE_EPISODES_KEPT=0) costs nothing.
 */
@Injectable()
export class EpisodeRecorder implements OnModuleInit, OnApplicationShutdown {
  readonly book: EpisodeBook;
  private messages: ConsumerMessages | undefined;
  private stopped = false;

  constructor(
    @Inject(TELEMETRY_CONFIG) private readonly config: TelemetryConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly jetstream: JetStreamProvider,
  ) {
    this.book = new EpisodeBook(config.episodesKept);
  }

  onModuleInit(): void {
    if (this.config.episodesKept > 0) void this.follow();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.messages?.close();
  }

  private async follow(): Promise<void> {
    const { js } = await this.jetstream.whenReady();
    if (this.stopped) return;
    // Every event, not filter_subjects: multiple filters need nats-server 2.10, and the deploy's may be older.
    const consumer = await js.consumers.get(JETSTREAM.eventsStream, { deliver_policy: DeliverPolicy.All });
    this.messages = await consumer.consume();
    const reader = new EventLogReader(this.book, EPISODE_STEPS);
    for await (const message of this.messages) {
      const outcome = reader.read(loggedEvent(message));
      // Duplicates are counted by the Recorder (batchgate_telemetry_events_skipped_total), which reads the same ids.
      if (outcome === 'unknown_schema' || outcome === 'undecodable')
        this.logger.warn({ subject: message.subject, reason: outcome }, 'skipping an event (episodes)');
    }
  }
}
