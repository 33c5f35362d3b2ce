import type { FetchBodyChunk, FetchResult, JoinReply } from '#libs/contracts';
import {
  CountReportSchema,
  FetchBodyChunkSchema,
  FetchResultSchema,
  JoinReplySchema,
  JoinRequestSchema,
  JoinStatus,
  SlotsClosedSchema,
} from '#libs/contracts';
import type { Bus, LargeMessages, RequestFailure } from '#libs/nats';
import { requestFailure, SUBJECTS } from '#libs/nats';
import type { Context, SpanContext } from '@opentelemetry/api';
import { trace } from '@opentelemetry/api';
import type { BodyStreamLimits } from './body-stream.js';
import { BodyStream, DEFAULT_STREAM_LIMITS } from './body-stream.js';
import type { LocalSlot } from './local-slot.js';
import type { Waiter } from './waiter.js';

/** A waiter's deadline on the wall clock (its own is on the monotonic clock): the unit FetchTask deadlines travel in. */
export const wallDeadline = (waiter: Pick<Waiter, 'deadlineMs' | 'arrivedAtMs' | 'arrivedAtWallMs'>): number =>
  waiter.arrivedAtWallMs + (waiter.deadlineMs - waiter.arrivedAtMs);

/** The latest wall-clock deadline among `waiters` (0 when there are none: unknown). */
export const latestDeadline = (waiters: readonly Waiter[]): number => waiters.reduce((latest, w) => Math.max(latest, wallDeadline(w)), 0);

export interface FleetEvents {
  /** NATS went away: nothing in flight through the fleet will be answered. */
  lost(): void;
  closed(slotIds: readonly string[]): void;
  orphaned(slotIds: readonly string[]): void;
  /** Flushed slots this ingress is the only member of: it calls the origin itself (no worker has them). */
  soleCall(slotIds: readonly string[]): void;
  result(result: FetchResult, sent: SpanContext | undefined): void;
}

/**
 * How long a join reply is still useful. The coalescer goes local after its
 * own (much shorter) join timeout, and a reply arriving later can still bring
 * the slot back into the fleet.
 */
const JOIN_REPLY_MS = 1000;

/** The origin id of BATCHGATE_UPSTREAM (the worker's OriginDirectory knows it by this name). */
const DEFAULT_ORIGIN_ID = 'default';

export type JoinOutcome = { ok: true; reply: JoinReply } | { ok: false; failure: RequestFailure | 'not_owner' };

/**
 * This ingress's side of the fleet protocol over NATS: joins to the
 * partition's coordinator, batched count reports, and the per-ingress result
 * and closed subjects. Hot path, so the raw bus rather than the Nest transport.
 */
export class FleetLink {
  private readonly stops: Array<() => void> = [];
  /** Streamed bodies by slot id, from their result or first piece (whichever is read first) to their end. */
  private readonly streams = new Map<string, { body: BodyStream; nextSeq: number }>();

  constructor(
    private readonly bus: Bus,
    private readonly large: LargeMessages,
    readonly ingressId: string,
    /** Whether this ingress makes a sole member's call itself now (not while its event loop is saturated). */
    private readonly soleCalls: () => boolean = () => true,
    private readonly streamLimits: BodyStreamLimits = DEFAULT_STREAM_LIMITS,
  ) {}

  get available(): boolean {
    return this.bus.connected;
  }

  listen(events: FleetEvents): void {
    this.stops.push(
      this.bus.onStatus((connected) => connected || events.lost()),
      this.bus.subscribe(SUBJECTS.result(this.ingressId), FetchResultSchema, (result, incoming) =>
        events.result(result, trace.getSpanContext(incoming.context)),
      ),
      this.bus.subscribe(SUBJECTS.body(this.ingressId), FetchBodyChunkSchema, (piece) => this.piece(piece)),
      this.bus.subscribe(SUBJECTS.closed(this.ingressId), SlotsClosedSchema, (notice) => {
        if (notice.slotIds.length > 0) events.closed(notice.slotIds);
        if (notice.orphanedSlotIds.length > 0) events.orphaned(notice.orphanedSlotIds);
        if (notice.soleMemberSlotIds.length > 0) events.soleCall(notice.soleMemberSlotIds);
      }),
    );
  }

  close(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  async join(slot: LocalSlot, context: Context): Promise<JoinOutcome> {
    try {
      const reply = await this.bus.request(
        SUBJECTS.join(slot.partition),
        JoinRequestSchema,
        {
          key: slot.key,
          partition: slot.partition,
          ingressId: this.ingressId,
          count: slot.waiters.length,
          request: {
            method: slot.request.method,
            path: slot.request.target,
            headers: slot.request.headers.map(([name, value]) => ({ name, value })),
            // The fleet's configured upstream; workers map ids to their own configuration.
            originId: DEFAULT_ORIGIN_ID,
          },
          route: slot.route.name,
          envelope: slot.route.envelope,
          scope: slot.scope,
          arrivedAtMs: slot.waiters[0]?.arrivedAtWallMs ?? Date.now(),
          deadlineAtMs: latestDeadline(slot.waiters),
          soleMemberCall: this.soleCalls(),
          // Coalescer.join reads JoinReply.sole_member_call.
          soleCallInReply: true,
        },
        JoinReplySchema,
        JOIN_REPLY_MS,
        context,
      );
      if (reply.status === JoinStatus.NOT_OWNER) return { ok: false, failure: 'not_owner' };
      return { ok: true, reply };
    } catch (error) {
      return { ok: false, failure: requestFailure(error) };
    }
  }

  report(partition: number, counts: Array<{ slotId: string; delta: number; deadlineAtMs: number }>): void {
    this.bus.publish(SUBJECTS.report(partition), CountReportSchema, { ingressId: this.ingressId, counts });
  }

  /** The body of a result: inline, fetched from the Object Store when it travelled by reference, or streamed in pieces. */
  async body(result: FetchResult): Promise<Uint8Array | BodyStream> {
    if (result.streamed) return this.stream(result.slotId).body;
    if (!result.bodyRef) return result.body;
    return this.large.get(result.bodyRef);
  }

  /** A streamed result nobody will be served (its slot was answered another way): its pieces are dropped. */
  drop(slotId: string): void {
    this.streams.get(slotId)?.body.fail('not needed');
  }

  /** Pieces must come in order: a gap (a piece lost) cuts the body rather than serve it with a hole. */
  private piece(piece: FetchBodyChunk): void {
    const entry = this.stream(piece.slotId);
    if (piece.seq !== entry.nextSeq) return entry.body.fail(`body piece ${piece.seq} came when ${entry.nextSeq} was due`);
    entry.nextSeq += 1;
    if (piece.data.length > 0) entry.body.push(Buffer.from(piece.data.buffer, piece.data.byteOffset, piece.data.byteLength));
    if (piece.error) entry.body.fail(piece.error);
    else if (piece.end) entry.body.end();
  }

  private stream(slotId: string): { body: BodyStream; nextSeq: number } {
    let entry = this.streams.get(slotId);
    if (!entry) {
      const created = { body: new BodyStream(this.streamLimits), nextSeq: 1 };
      this.streams.set(slotId, created);
      void created.body.done.then(() => this.streams.get(slotId) === created && this.streams.delete(slotId));
      entry = created;
    }
    return entry;
  }
}
