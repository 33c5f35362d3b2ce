/**
 * Redis key layout. Every key of a partition carries the partition as a hash
 * tag ({p17}) so a Redis Cluster keeps a partition on one shard and each Lua
 * script touches one shard. Per partition: the lease, ONE index hash
 * (coalescing key -> open slot id; it is the list a new owner loads) and one
 * hash per open slot, named from its id inside the scripts under the same tag.
 */
export const redisKeys = {
  lease: (p: number) => `bg:{p${p}}:lease`,
  index: (p: number) => `bg:{p${p}}:index`,
  /** Before the index (layout of 2026-12-03): one string per key and a set of ids; read only at takeover. */
  legacyOpen: (p: number, key: string) => `bg:{p${p}}:open:${key}`,
  legacySlots: (p: number) => `bg:{p${p}}:slots`,
  slotPrefix: (p: number) => `bg:{p${p}}:slot:`,
  slot: (p: number, id: string) => `bg:{p${p}}:slot:${id}`,
  coordinators: 'bg:coordinators',
};

/** Slots outlive any envelope (max 60 s) but expire on their own if abandoned. */
export const SLOT_TTL_MS = 120_000;
