import { Priority } from '#libs/contracts';

export type PriorityName = 'critical' | 'high' | 'normal' | 'low';

export const PRIORITY_NAMES: readonly PriorityName[] = ['critical', 'high', 'normal', 'low'];

const BY_NAME: Record<PriorityName, Priority> = {
  critical: Priority.CRITICAL,
  high: Priority.HIGH,
  normal: Priority.NORMAL,
  low: Priority.LOW,
};

/**
 * Longest time an item of each priority may wait in a queue before its batch
 * is flushed (seed 004's MaxWaitMs: 5/20/50/100 ms, defined there but never
 * used by the Go batcher; here the coordinator enforces them).
 */
export const PRIORITY_MAX_WAIT_MS: Readonly<Record<Priority, number>> = {
  [Priority.UNSPECIFIED]: 50,
  [Priority.CRITICAL]: 5,
  [Priority.HIGH]: 20,
  [Priority.NORMAL]: 50,
  [Priority.LOW]: 100,
};

/** The wire priority of a header or body value; undefined for anything else (a 400 at the edge). */
export function parsePriority(value: unknown): Priority | undefined {
  if (typeof value !== 'string') return undefined;
  const name = value.trim().toLowerCase();
  return Object.hasOwn(BY_NAME, name) ? BY_NAME[name as PriorityName] : undefined;
}

export function priorityName(priority: Priority): PriorityName {
  switch (priority) {
    case Priority.CRITICAL:
      return 'critical';
    case Priority.HIGH:
      return 'high';
    case Priority.LOW:
      return 'low';
    case Priority.NORMAL:
    case Priority.UNSPECIFIED:
      return 'normal';
  }
}

/**
 * Dispatch rank with aging (lower goes first): the priority's level minus one
 * level per `agingMs` the queue's oldest item has waited past its own max
 * wait. A low item overdue by 3 x agingMs ranks with a fresh critical one, so
 * a stream of higher-priority work delays low work by a bounded amount and
 * never starves it.
 */
export function agedRank(priority: Priority, overdueMs: number, agingMs: number): number {
  const level = priority === Priority.UNSPECIFIED ? Priority.NORMAL : priority;
  return level - Math.max(0, overdueMs) / agingMs;
}
