import { agedRank } from '#libs/inference';
import { Priority } from '#libs/contracts';

interface Waiter {
  priority: Priority;
  sinceMs: number;
  wake: () => void;
}

/**
 * The backend's parallelism: at most `limit` calls are served at once (0 =
 * unlimited). The rest wait, and a freed slot goes to the best-ranked waiter:
 * priority first (the `x-batchgate-priority` a gateway sends, as servers with
 * priority scheduling take one), each `agingMs` of waiting worth one level,
 * so lower priorities are delayed by a bounded amount and never starved;
 * arrival order among equals. A waiter whose client left gives its place up.
 */
export class Slots {
  private busy = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    private readonly limit: number,
    private readonly agingMs = 250,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get queued(): number {
    return this.waiting.length;
  }

  get inUse(): number {
    return this.busy;
  }

  /** Resolves with a release function once a slot is free; rejects if `signal` aborts first. */
  acquire(signal: AbortSignal, priority: Priority = Priority.NORMAL): Promise<() => void> {
    const granted = () => {
      this.busy++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        this.busy--;
        this.next()?.wake();
      };
    };
    if (this.limit === 0 || this.busy < this.limit) return Promise.resolve(granted());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        priority,
        sinceMs: this.now(),
        wake: () => {
          signal.removeEventListener('abort', leave);
          resolve(granted());
        },
      };
      const leave = () => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new Error('client left'));
      };
      if (signal.aborted) return leave();
      signal.addEventListener('abort', leave, { once: true });
      this.waiting.push(waiter);
    });
  }

  /** Takes the best-ranked waiter off the list (the first of equals: the list is in arrival order). */
  private next(): Waiter | undefined {
    if (this.waiting.length === 0) return undefined;
    const now = this.now();
    let best = 0;
    let bestRank = Infinity;
    this.waiting.forEach((w, i) => {
      const rank = agedRank(w.priority, now - w.sinceMs, this.agingMs);
      if (rank < bestRank) [best, bestRank] = [i, rank];
    });
    return this.waiting.splice(best, 1)[0];
  }
}
