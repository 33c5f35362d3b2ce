import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Inject, Injectable } from '@nestjs/common';
import { fromBinary, SlotFlushedSchema, SlotsDecidedSchema, UpstreamCompletedSchema } from '#libs/contracts';
import { JETSTREAM, SUBJECTS } from '#libs/nats';
import { JetStreamProvider, LOGGER } from '#libs/service';
import type { Logger } from '#libs/tracing';
import type { ConsumerMessages } from '@nats-io/jetstream';
import { DeliverPolicy } from '@nats-io/jetstream';
import type { TelemetryConfig } from './config.js';
import { TELEMETRY_CONFIG } from './config.js';
import { EpisodeBook } from './episodes.js';

/**
 * Builds the decision episodes (episodes.ts) with its own ordered consumer of
 * the event stream, from its first message, reading the three event types
 * they are made of: kept apart from the Recorder (its own state, its own
 * failure), and turning episodes off (BATCHGATE_EPISODES_KEPT=0) costs nothing.
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
    const subjects = {
      decided: SUBJECTS.event('slot.decided'),
      flushed: SUBJECTS.event('slot.flushed'),
      upstream: SUBJECTS.event('upstream.completed'),
    };
    // Every event, not filter_subjects: multiple filters need nats-server 2.10, and the deploy's may be older.
    const consumer = await js.consumers.get(JETSTREAM.eventsStream, { deliver_policy: DeliverPolicy.All });
    this.messages = await consumer.consume();
    for await (const message of this.messages) {
      try {
        if (message.subject === subjects.decided) this.book.decided(fromBinary(SlotsDecidedSchema, message.data));
        else if (message.subject === subjects.flushed) this.book.flushed(fromBinary(SlotFlushedSchema, message.data));
        else if (message.subject === subjects.upstream) this.book.upstreamCompleted(fromBinary(UpstreamCompletedSchema, message.data));
      } catch (error) {
        this.logger.warn({ err: error, subject: message.subject }, 'skipping an undecodable event (episodes)');
      }
    }
  }
}
