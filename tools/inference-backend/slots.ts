/**
 * The backend's parallelism: at most `limit` calls are served at once, the
 * rest wait in arrival order (0 = unlimited). A waiter whose client left gives
 * its place up.
 */
export class Slots {
  private busy = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  get queued(): number {
    return this.waiting.length;
  }

  get inUse(): number {
    return this.busy;
  }

  /** Resolves with a release function once a slot is free; rejects if `signal` aborts first. */
  acquire(signal: AbortSignal): Promise<() => void> {
    const granted = () => {
      this.busy++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        this.busy--;
        this.waiting.shift()?.();
      };
    };
    if (this.limit === 0 || this.busy < this.limit) return Promise.resolve(granted());
    return new Promise((resolve, reject) => {
      const wake = () => {
        signal.removeEventListener('abort', leave);
        resolve(granted());
      };
      const leave = () => {
        const at = this.waiting.indexOf(wake);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new Error('client left'));
      };
      if (signal.aborted) return leave();
      signal.addEventListener('abort', leave, { once: true });
      this.waiting.push(wake);
    });
  }
}
