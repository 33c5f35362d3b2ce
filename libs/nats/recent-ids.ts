/**
 * Event ids seen lately, for readers of at-least-once events: a retried
 * publish reaches every core subscriber again, and may be stored twice in the
 * stream when the retry comes after its 2-minute duplicate window; a reader
 * counts each id once. Bounded: the oldest id is forgotten first, so the
 * capacity must cover the ids seen over the retry horizon. About 125 bytes
 * per (36-character UUID) id: 200,000 ids is ~25 MB.
 */
export class RecentIds {
  private readonly ring: Array<string | undefined>;
  private readonly seen = new Set<string>();
  private next = 0;

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`RecentIds capacity must be a positive integer (got ${capacity})`);
    this.ring = new Array<string | undefined>(capacity);
  }

  /** True the first time `id` is offered (within the last `capacity` ids). */
  firstTime(id: string): boolean {
    if (this.seen.has(id)) return false;
    const evicted = this.ring[this.next];
    if (evicted !== undefined) this.seen.delete(evicted);
    this.ring[this.next] = id;
    this.next = (this.next + 1) % this.capacity;
    this.seen.add(id);
    return true;
  }
}
