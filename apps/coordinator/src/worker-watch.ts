import type { WorkerHeartbeat } from '#libs/contracts';

/** A dispatched slot the watch follows until its worker says the call is over, or is found gone. */
export interface Watched<T> {
  slotId: string;
  /** undefined: the accept reply did not come in time; a heartbeat naming the slot tells who has it. */
  workerId: string | undefined;
  /** Heartbeats with a higher sequence number list the slot until its call ends. */
  acceptedSeq: bigint;
  /** When the watch started following it (monotonic ms). */
  sinceMs: number;
  /** Unconfirmed slots: heartbeats per worker, received since, that did not name it. */
  misses: Map<string, number>;
  job: T;
}

interface WorkerState {
  lastBeatMs: number;
  probing: boolean;
  gone: boolean;
}

/** An unconfirmed slot nobody claimed is lost after this many lost-worker bounds at the latest. */
const UNCLAIMED_CAP = 8;

/**
 * Which worker is calling the origin for which dispatched slot, learned from
 * accept replies and the workers' heartbeats (core NATS, every ~50 ms). Silence
 * alone is not a death: a busy or paused process beats late. A worker silent
 * for lostAfterMs is probed (toProbe); only a probe answered by "no responders"
 * (gone from NATS) or not at all marks it gone, and its slots lost. Pure
 * bookkeeping on an injected clock; the dispatcher sends the probes and decides
 * what happens to a lost slot.
 */
export class WorkerWatch<T> {
  private readonly slots = new Map<string, Watched<T>>();
  private readonly byWorker = new Map<string, Set<string>>();
  private readonly workers = new Map<string, WorkerState>();

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
    const watched: Watched<T> = { slotId, workerId, acceptedSeq, sinceMs: this.now(), misses: new Map(), job };
    this.slots.set(slotId, watched);
    if (workerId !== undefined) this.assign(watched, workerId);
  }

  heartbeat(beat: WorkerHeartbeat): void {
    const { workerId, seq } = beat;
    const state = this.workers.get(workerId);
    if (state) Object.assign(state, { lastBeatMs: this.now(), gone: false });
    else this.workers.set(workerId, { lastBeatMs: this.now(), probing: false, gone: false });
    for (const id of beat.doneSlotIds) this.forget(id);
    const calling = new Set(beat.slotIds);
    for (const watched of this.slots.values()) {
      if (watched.workerId !== undefined) continue;
      if (calling.has(watched.slotId)) {
        watched.acceptedSeq = seq - 1n;
        this.assign(watched, workerId);
      } else {
        watched.misses.set(workerId, (watched.misses.get(workerId) ?? 0) + 1);
      }
    }
    // A slot missing from a beat sent after its accept is over, even if the beat naming it done was lost.
    for (const id of [...(this.byWorker.get(workerId) ?? [])]) {
      const watched = this.slots.get(id);
      if (watched && seq > watched.acceptedSeq && !calling.has(id)) this.forget(id);
    }
  }

  /** Workers that follow slots and have been silent for lostAfterMs, not yet probed: ask each whether it is there. */
  toProbe(): string[] {
    const now = this.now();
    const silent: string[] = [];
    for (const [workerId, state] of this.workers) {
      if (state.gone || state.probing || now - state.lastBeatMs <= this.lostAfterMs) continue;
      if (!this.byWorker.has(workerId) && !this.anyUnconfirmed()) continue;
      state.probing = true;
      silent.push(workerId);
    }
    return silent;
  }

  /** The probe's verdict: 'alive' (it answered; its reply went to heartbeat()) or 'gone'. */
  probed(workerId: string, verdict: 'alive' | 'gone'): void {
    const state = this.workers.get(workerId);
    if (!state) return;
    state.probing = false;
    if (verdict === 'gone') state.gone = true;
  }

  /**
   * Slots lost and leaving the watch: those of a gone worker, and unconfirmed
   * ones that every worker still there has beaten twice without naming (or
   * that nobody claimed for UNCLAIMED_CAP bounds). silentMs is the detection time.
   */
  takeLost(): Array<Watched<T> & { silentMs: number }> {
    const now = this.now();
    const lost: Array<Watched<T> & { silentMs: number }> = [];
    for (const watched of this.slots.values()) {
      if (watched.workerId !== undefined) {
        const state = this.workers.get(watched.workerId);
        if (state?.gone) lost.push({ ...watched, silentMs: now - Math.max(watched.sinceMs, state.lastBeatMs) });
      } else if (this.unclaimed(watched, now)) {
        lost.push({ ...watched, silentMs: now - watched.sinceMs });
      }
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

  private unclaimed(watched: Watched<T>, now: number): boolean {
    const age = now - watched.sinceMs;
    if (age > this.lostAfterMs * UNCLAIMED_CAP) return true;
    if (age <= this.lostAfterMs) return false;
    for (const [workerId, state] of this.workers) {
      if (!state.gone && (watched.misses.get(workerId) ?? 0) < 2) return false;
    }
    return true;
  }

  private anyUnconfirmed(): boolean {
    for (const watched of this.slots.values()) if (watched.workerId === undefined) return true;
    return false;
  }

  private assign(watched: Watched<T>, workerId: string): void {
    watched.workerId = workerId;
    if (!this.workers.has(workerId)) this.workers.set(workerId, { lastBeatMs: this.now(), probing: false, gone: false });
    const set = this.byWorker.get(workerId);
    if (set) set.add(watched.slotId);
    else this.byWorker.set(workerId, new Set([watched.slotId]));
  }

  /** Workers unheard of for a minute and following nothing are forgotten (ids of replaced pods). */
  private pruneWorkers(now: number): void {
    for (const [workerId, state] of this.workers) {
      if (now - state.lastBeatMs > 60_000 && !this.byWorker.has(workerId)) this.workers.delete(workerId);
    }
  }
}
