import type { BucketEnvelope } from '#libs/metrics';
import { Registry } from '#libs/metrics';
import { JETSTREAM } from '#libs/nats';
import type { NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { EpisodeBook } from './episodes.js';
import type { Outcome } from './event-log.js';
import { EPISODE_STEPS, EventLogReader, FLEET_STEPS, loggedEvent } from './event-log.js';
import { FleetProjection } from './projections.js';

export interface Rebuilt {
  /** The projection's metrics alone (no process metrics): what to compare with the live recorder's. */
  registry: Registry;
  /** Metrics counters, arrival traces. */
  projection: FleetProjection;
  /** The decision episodes. */
  episodes: EpisodeBook;
  /** Messages read, by what became of them (in the fleet projection, which reads every event type the episodes do). */
  outcomes: Record<Outcome, number>;
}

export interface RebuildOptions {
  arrivalsKept: number;
  envelope: BucketEnvelope;
  episodesKept: number;
}

/**
 * Replays the events stream, from its first message to the last one stored
 * when the replay starts, into fresh projections, through the same reader and
 * steps the live recorders use (Recorder, EpisodeRecorder).
 */
export async function rebuildProjection(nc: NatsConnection, options: RebuildOptions): Promise<Rebuilt> {
  const registry = new Registry();
  const projection = new FleetProjection(registry, options.arrivalsKept, options.envelope);
  const episodes = new EpisodeBook(options.episodesKept);
  const reader = new EventLogReader(projection, FLEET_STEPS);
  const episodeReader = new EventLogReader(episodes, EPISODE_STEPS);
  const outcomes: Record<Outcome, number> = { applied: 0, duplicate: 0, not_projected: 0, unknown_schema: 0, undecodable: 0 };
  const lastSeq = (await (await jetstreamManager(nc)).streams.info(JETSTREAM.eventsStream)).state.last_seq;
  if (lastSeq === 0) return { registry, projection, episodes, outcomes };
  const consumer = await jetstream(nc).consumers.get(JETSTREAM.eventsStream, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume();
  for await (const message of messages) {
    const event = loggedEvent(message);
    outcomes[reader.read(event)]++;
    episodeReader.read(event);
    if (message.seq >= lastSeq) break;
  }
  await messages.close();
  return { registry, projection, episodes, outcomes };
}

/** Prometheus text as series -> value ("batch_flush_total{reason=\"timeout\"}" -> 3), comments left out. */
export function seriesOf(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}

/**
 * The series of the rebuilt projection whose live value differs (or is
 * missing live), as "series: live -> rebuilt" lines; empty when they are equal.
 * Only the projection's own metrics are compared: the live registry also holds process metrics.
 */
export function projectionDiff(liveText: string, rebuiltText: string): string[] {
  const live = seriesOf(liveText);
  const differences: string[] = [];
  for (const [series, value] of seriesOf(rebuiltText)) {
    if (live.get(series) !== value) differences.push(`${series}: ${live.get(series) ?? 'missing'} -> ${value}`);
  }
  return differences;
}

/** Lines shown per export that differs (the first ones): enough to see what differs without flooding the terminal. */
const LINES_SHOWN = 5;

/**
 * How a rebuilt JSON Lines export (arrivals.jsonl, episodes.jsonl) differs
 * from the live one: the line counts, then the first differing lines; empty
 * when they are equal.
 */
export function exportDiff(name: string, liveText: string, rebuiltText: string): string[] {
  const lines = (text: string) => text.split('\n').filter((line) => line !== '');
  const live = lines(liveText);
  const rebuilt = lines(rebuiltText);
  const differences: string[] = [];
  if (live.length !== rebuilt.length) differences.push(`${name}: ${live.length} lines live -> ${rebuilt.length} rebuilt`);
  for (let i = 0; i < Math.max(live.length, rebuilt.length) && differences.length <= LINES_SHOWN; i++) {
    if (live[i] !== rebuilt[i]) differences.push(`${name} line ${i + 1}: ${live[i] ?? 'missing'} -> ${rebuilt[i] ?? 'missing'}`);
  }
  return differences;
}
