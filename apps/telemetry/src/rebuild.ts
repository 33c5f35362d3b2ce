import type { BucketEnvelope } from '#libs/metrics';
import { Registry } from '#libs/metrics';
import { EVENT_SCHEMA_HEADER, JETSTREAM } from '#libs/nats';
import type { NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { Outcome } from './event-log.js';
import { EventLogReader } from './event-log.js';
import { FleetProjection } from './projections.js';

export interface Rebuilt {
  /** The projection's metrics alone (no process metrics): what to compare with the live recorder's. */
  registry: Registry;
  projection: FleetProjection;
  /** Messages read, by what became of them. */
  outcomes: Record<Outcome, number>;
}

/**
 * Replays the events stream, from its first message to the last one stored
 * when the replay starts, into a fresh projection, through the same reader
 * the live recorder uses.
 */
export async function rebuildProjection(nc: NatsConnection, options: { arrivalsKept: number; envelope: BucketEnvelope }): Promise<Rebuilt> {
  const registry = new Registry();
  const projection = new FleetProjection(registry, options.arrivalsKept, options.envelope);
  const reader = new EventLogReader(projection);
  const outcomes: Record<Outcome, number> = { applied: 0, duplicate: 0, not_projected: 0, unknown_schema: 0, undecodable: 0 };
  const lastSeq = (await (await jetstreamManager(nc)).streams.info(JETSTREAM.eventsStream)).state.last_seq;
  if (lastSeq === 0) return { registry, projection, outcomes };
  const consumer = await jetstream(nc).consumers.get(JETSTREAM.eventsStream, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume();
  for await (const message of messages) {
    const outcome = reader.read({
      subject: message.subject,
      id: message.headers?.get('Nats-Msg-Id') || undefined,
      schema: message.headers?.get(EVENT_SCHEMA_HEADER) || undefined,
      data: message.data,
    });
    outcomes[outcome]++;
    if (message.seq >= lastSeq) break;
  }
  await messages.close();
  return { registry, projection, outcomes };
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
