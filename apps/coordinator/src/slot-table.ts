import type { JoinRequest } from '#libs/contracts';
import type { OpenSlotView } from '#libs/policy';
import type { Context } from '@opentelemetry/api';

/** One open fleet-wide slot as its owning coordinator holds it in memory. */
export interface Slot extends OpenSlotView {
  id: string;
  partition: number;
  /** The join that opened it: upstream request, scope, envelope. */
  opening: JoinRequest;
  /** Waiters per member ingress. */
  members: Map<string, number>;
  /** Trace context of each member's join, for the flush span's links. */
  contexts: Context[];
  /** Wall-clock ms of the latest waiter deadline (FetchTask.deadline_at_ms); 0 = unknown. */
  deadlineAtMs: number;
  /** False for a slot never written to Redis (flushed inside its opening join): nothing to close there. */
  persisted?: boolean;
}

/**
 * The later of two waiter deadlines, where 0 is unknown (an older ingress sent
 * none) and stays unknown: a slot with waiters of unknown deadline must never
 * be refused by a worker as expired.
 */
export function laterDeadline(a: number, b: number): number {
  return a > 0 && b > 0 ? Math.max(a, b) : 0;
}

/**
 * The open slots this coordinator owns: by id, and by key for the
 * create-or-join decision. Pure in-memory bookkeeping; Redis mirrors it.
 */
export class SlotTable {
  private readonly byId = new Map<string, Slot>();
  private readonly byKey = new Map<string, Slot>();

  get size(): number {
    return this.byId.size;
  }

  /** Total waiters across open slots: the queue-depth feature. */
  waiters(): number {
    let total = 0;
    for (const slot of this.byId.values()) total += slot.size;
    return total;
  }

  get(id: string): Slot | undefined {
    return this.byId.get(id);
  }

  openFor(key: string): Slot | undefined {
    return this.byKey.get(key);
  }

  add(slot: Slot): void {
    this.byId.set(slot.id, slot);
    this.byKey.set(slot.key, slot);
  }

  /** Adds `count` waiters from `ingressId` to an open slot. */
  join(slot: Slot, ingressId: string, count: number, nowMs: number, context?: Context): void {
    slot.size += count;
    slot.members.set(ingressId, (slot.members.get(ingressId) ?? 0) + count);
    slot.lastArrivalMs = nowMs;
    if (context && slot.contexts.length < 32) slot.contexts.push(context);
  }

  /** Removes a slot (flushed or handed over); returns it if it was open. */
  remove(id: string): Slot | undefined {
    const slot = this.byId.get(id);
    if (!slot) return undefined;
    this.byId.delete(id);
    if (this.byKey.get(slot.key) === slot) this.byKey.delete(slot.key);
    return slot;
  }

  /** Removes every slot of a partition (on losing or releasing it). */
  dropPartition(partition: number): Slot[] {
    const dropped = [...this.byId.values()].filter((slot) => slot.partition === partition);
    for (const slot of dropped) this.remove(slot.id);
    return dropped;
  }

  values(): IterableIterator<Slot> {
    return this.byId.values();
  }
}
