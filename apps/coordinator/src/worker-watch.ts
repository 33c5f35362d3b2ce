import type { WorkerHeartbeat } from '#libs/contracts';

/** A dispatched slot the watch follows until its worker says the call is over, or goes silent. */
export interface Watched<T> {
  slotId: string;
  /** undefined: the accept reply did not come in time; a heartbeat naming the slot tells who has it. */
  workerId: string | undefined;
  /** Heartbeats with a higher sequence number list the slot until its call ends. */
  acceptedSeq: bigint;
  /** When the watch started following it (monotonic ms). */
  sinceMs: number;
  job: T;
}

/**
 * Which worker is calling the origin for which dispatched slot, learned from
 * accept replies and the workers' heartbeats (core NATS, every ~50 ms), and
 * which of them went silent for longer than lostAfterMs. Pure bookkeeping on
 * an injected clock; the dispatcher owns the timer and what happens to a lost slot.
 */
export class WorkerWatch<T> {
  private readonly slots = new Map<string, Watched<T>>();
  private readonly byWorker = new Map<string, Set<string>>();
  private readonly lastBeatMs = new Map<string, number>();

  constructor(
    private readonly lostAfterMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.slots.size;
  }

  /** A worker accepted the slot; workerId undefined when the accept reply never came. */
  follow(slotId: string, workerId: string | undefined, acceptedSeq: bigint, job: T): void {
    this.forget(slotId);
    const watched: Watched<T> = { slotId, workerId, acceptedSeq, sinceMs: this.now(), job };
    this.slots.set(slotId, watched);
    if (workerId !== undefined) this.assign(watched, workerId);
  }

  heartbeat(beat: WorkerHeartbeat): void {
    const { workerId, seq } = beat;
    this.lastBeatMs.set(workerId, this.now());
    for (const id of beat.doneSlotIds) this.forget(id);
    const calling = new Set(beat.slotIds);
    for (const id of calling) {
      const watched = this.slots.get(id);
      if (watched && watched.workerId === undefined) {
        watched.acceptedSeq = seq - 1n;
        this.assign(watched, workerId);
      }
    }
    // A slot missing from a beat sent after its accept is over, even if the beat naming it done was lost.
    for (const id of [...(this.byWorker.get(workerId) ?? [])]) {
      const watched = this.slots.get(id);
      if (watched && seq > watched.acceptedSeq && !calling.has(id)) this.forget(id);
    }
  }

  /** Slots whose worker has been silent (or, unconfirmed, unclaimed) for lostAfterMs; they leave the watch. */
  takeLost(): Array<Watched<T> & { silentMs: number }> {
    const now = this.now();
    const lost: Array<Watched<T> & { silentMs: number }> = [];
    for (const watched of this.slots.values()) {
      const heard =
        watched.workerId === undefined ? watched.sinceMs : Math.max(watched.sinceMs, this.lastBeatMs.get(watched.workerId) ?? 0);
      if (now - heard > this.lostAfterMs) lost.push({ ...watched, silentMs: now - heard });
    }
    for (const watched of lost) this.forget(watched.slotId);
    this.pruneWorkers(now);
    return lost;
  }

  forget(slotId: string): void {
    const watched = this.slots.get(slotId);
    if (!watched) return;
    this.slots.delete(slotId);
    if (watched.workerId === undefined) return;
    const set = this.byWorker.get(watched.workerId);
    set?.delete(slotId);
    if (set?.size === 0) this.byWorker.delete(watched.workerId);
  }

  private assign(watched: Watched<T>, workerId: string): void {
    watched.workerId = workerId;
    const set = this.byWorker.get(workerId);
    if (set) set.add(watched.slotId);
    else this.byWorker.set(workerId, new Set([watched.slotId]));
  }

  /** Workers unheard of for a long time and following nothing are forgotten (ids of replaced pods). */
  private pruneWorkers(now: number): void {
    for (const [workerId, at] of this.lastBeatMs) {
      if (now - at > 60_000 && !this.byWorker.has(workerId)) this.lastBeatMs.delete(workerId);
    }
  }
}
