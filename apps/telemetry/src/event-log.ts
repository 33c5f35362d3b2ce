import type { DescMessage, MessageShape } from '#libs/contracts';
import {
  fromBinary,
  InferBatchFlushedSchema,
  InferCompletedSchema,
  RequestsCompletedSchema,
  SlotFlushedSchema,
  SlotOpenedSchema,
  SlotsDecidedSchema,
  UpstreamCompletedSchema,
} from '#libs/contracts';
import type { EventType } from '#libs/nats';
import { EVENT_SCHEMA_HEADER, RecentIds } from '#libs/nats';
import type { JsMsg } from '@nats-io/jetstream';
import type { EpisodeBook } from './episodes.js';
import type { FleetProjection } from './projections.js';

interface Step<P> {
  /** The payload type this reader understands (Bg-Event-Schema), version included. */
  schema: string;
  apply: (projection: P, data: Uint8Array) => void;
}

/** Which projection step each event type feeds; types not listed are recorded but not projected. */
export type Steps<P> = Partial<Record<EventType, Step<P>>>;

function on<P, S extends DescMessage>(schema: S, apply: (projection: P, event: MessageShape<S>) => void): Step<P> {
  return { schema: schema.typeName, apply: (projection, data) => apply(projection, fromBinary(schema, data)) };
}

/** The fleet projection (metrics counters, arrival traces, the status page's view, Flow B's batches included). */
export const FLEET_STEPS: Steps<FleetProjection> = {
  'slot.opened': on(SlotOpenedSchema, (p: FleetProjection, e) => p.slotOpened(e)),
  'slot.flushed': on(SlotFlushedSchema, (p: FleetProjection, e) => p.slotFlushed(e)),
  'slot.decided': on(SlotsDecidedSchema, (p: FleetProjection, e) => p.slotsDecided(e)),
  'upstream.completed': on(UpstreamCompletedSchema, (p: FleetProjection, e) => p.upstreamCompleted(e)),
  'request.completed': on(RequestsCompletedSchema, (p: FleetProjection, e) => p.requestsCompleted(e)),
  'batch.flushed': on(InferBatchFlushedSchema, (p: FleetProjection, e) => p.batchFlushed(e)),
  'inference.completed': on(InferCompletedSchema, (p: FleetProjection, e) => p.inferenceCompleted(e)),
};

/** The decision episodes (episodes.ts): a slot's decisions, its flush and its upstream call. */
export const EPISODE_STEPS: Steps<EpisodeBook> = {
  'slot.decided': on(SlotsDecidedSchema, (b: EpisodeBook, e) => b.decided(e)),
  'slot.flushed': on(SlotFlushedSchema, (b: EpisodeBook, e) => b.flushed(e)),
  'upstream.completed': on(UpstreamCompletedSchema, (b: EpisodeBook, e) => b.upstreamCompleted(e)),
};

/** One message of the events stream as the reader sees it. */
export interface LoggedEvent {
  subject: string;
  /** Nats-Msg-Id: the event's id. */
  id: string | undefined;
  /** Bg-Event-Schema; undefined for events written before it existed (read as v1). */
  schema: string | undefined;
  data: Uint8Array;
}

/** A JetStream message of the events stream, as the reader sees it. */
export function loggedEvent(message: JsMsg): LoggedEvent {
  return {
    subject: message.subject,
    id: message.headers?.get('Nats-Msg-Id') || undefined,
    schema: message.headers?.get(EVENT_SCHEMA_HEADER) || undefined,
    data: message.data,
  };
}

export type Outcome = 'applied' | 'duplicate' | 'not_projected' | 'unknown_schema' | 'undecodable';

/**
 * Ids kept per reader: 200,000 (~25 MB) is hours of a busy fleet's
 * decision-relevant events (request.completed are batched per 100 requests).
 */
const IDS_KEPT = 200_000;

/**
 * Applies the event log to a projection through its steps, once per event
 * id. The live recorders (Recorder, EpisodeRecorder) and
 * `npm run telemetry:rebuild` all read the stream through this, so a rebuilt
 * projection equals the live one.
 */
export class EventLogReader<P> {
  private readonly ids = new RecentIds(IDS_KEPT);

  constructor(
    private readonly projection: P,
    private readonly steps: Steps<P>,
  ) {}

  read(event: LoggedEvent): Outcome {
    const type = event.subject.slice('events.'.length) as EventType;
    const step = this.steps[type];
    if (!step) return 'not_projected';
    if (event.schema !== undefined && event.schema !== step.schema) return 'unknown_schema';
    if (event.id !== undefined && !this.ids.firstTime(event.id)) return 'duplicate';
    try {
      step.apply(this.projection, event.data);
      return 'applied';
    } catch {
      return 'undecodable';
    }
  }
}
