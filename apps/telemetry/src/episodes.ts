import type { SlotFlushed, SlotsDecided, UpstreamCompleted } from '#libs/contracts';
import { DecideReplySchema, DecideRequestSchema, FlushAction, fromBinary } from '#libs/contracts';
import type { EpisodeDecision, LiveEpisode } from '#libs/sim';

/** Decisions kept per slot: a slot is asked when it opens or its inputs change, rarely more (bench:policy). */
const DECISIONS_PER_EPISODE = 64;

/**
 * Decision episodes from the event stream (the format is documented in
 * libs/sim/episodes.ts): each slot's policy.decide answers (slot.decided),
 * how it was flushed (slot.flushed) and its upstream call (upstream.completed,
 * matched by slot id). Bounded: at most `kept` finished episodes and as many
 * slots in progress, the oldest dropped first; built only from events, so a
 * replay of the stream rebuilds it.
 */
export class EpisodeBook {
  private readonly open = new Map<string, { route: string; decisions: EpisodeDecision[] }>();
  private readonly done: LiveEpisode[] = [];
  private next = 0;
  /** Flushed episodes still waiting for their upstream call's completion. */
  private readonly awaitingUpstream = new Map<string, LiveEpisode>();

  constructor(private readonly kept: number) {}

  decided(event: SlotsDecided): void {
    if (this.kept === 0) return;
    const request = fromBinary(DecideRequestSchema, event.request);
    const reply = fromBinary(DecideReplySchema, event.reply);
    const slots = request.slots;
    if (!slots) return;
    const atMs = event.meta?.atMs ?? 0;
    slots.slotIds.forEach((slotId, i) => {
      const decider = reply.decider[i] ?? 0;
      const decision: EpisodeDecision = {
        at_ms: atMs,
        size: slots.size[i] ?? 0,
        age_ms: slots.ageMs[i] ?? 0,
        request_rate: slots.requestRate[i] ?? 0,
        idle_ms: slots.idleMs[i] ?? 0,
        upstream_p99_ms: slots.upstreamP99Ms[i] ?? 0,
        action: reply.actions[i] === FlushAction.FLUSH ? 'flush' : 'wait',
        // JSON has no Infinity: a plan without a time rule is null.
        flush_at_age_ms: Number.isFinite(reply.flushAtAgeMs[i]) ? reply.flushAtAgeMs[i]! : null,
        flush_at_size: reply.flushAtSize[i] ?? 0,
        strategy: reply.strategies[decider] ?? '',
        model_version: reply.modelVersions[decider] ?? '',
      };
      let episode = this.open.get(slotId);
      if (!episode) {
        episode = { route: slots.routes[slots.routeIndex[i] ?? 0] ?? '', decisions: [] };
        this.open.set(slotId, episode);
        if (this.open.size > this.kept) this.open.delete(this.open.keys().next().value!);
      }
      if (episode.decisions.length < DECISIONS_PER_EPISODE) episode.decisions.push(decision);
    });
  }

  flushed(event: SlotFlushed): void {
    if (this.kept === 0) return;
    const decided = this.open.get(event.slotId);
    this.open.delete(event.slotId);
    const episode: LiveEpisode = {
      slot_id: event.slotId,
      route: event.route || decided?.route || '',
      key: event.key,
      decisions: decided?.decisions ?? [],
      flush: { at_ms: event.meta?.atMs ?? 0, reason: event.reason, size: event.size, age_ms: event.ageMs },
    };
    if (this.done.length < this.kept) this.done.push(episode);
    else {
      this.awaitingUpstream.delete(this.done[this.next]!.slot_id);
      this.done[this.next] = episode;
    }
    this.next = (this.next + 1) % this.kept;
    this.awaitingUpstream.set(event.slotId, episode);
  }

  upstreamCompleted(event: UpstreamCompleted): void {
    const episode = this.awaitingUpstream.get(event.slotId);
    if (!episode) return;
    episode.upstream = { latency_ms: event.latencyMs, status: event.status };
    this.awaitingUpstream.delete(event.slotId);
  }

  /** Finished episodes, oldest flush first (the ring unrolled). */
  episodes(): LiveEpisode[] {
    return this.done.length < this.kept ? [...this.done] : [...this.done.slice(this.next), ...this.done.slice(0, this.next)];
  }
}

/** The export format (GET /export/episodes.jsonl): one episode per line, oldest flush first, optionally one route's. */
export function episodesJsonl(book: EpisodeBook, route?: string): string {
  return book
    .episodes()
    .filter((episode) => !route || episode.route === route)
    .map((episode) => JSON.stringify(episode))
    .join('\n');
}
