/**
 * Redis key layout. Every key of a partition carries the partition as a hash
 * tag ({p17}) so a Redis Cluster keeps a partition on one shard and each Lua
 * script touches one shard. Slot hashes are named from their id inside the
 * scripts, always under the same tag.
 */
export const redisKeys = {
  lease: (p: number) => `bg:{p${p}}:lease`,
  open: (p: number, key: string) => `bg:{p${p}}:open:${key}`,
  slots: (p: number) => `bg:{p${p}}:slots`,
  slotPrefix: (p: number) => `bg:{p${p}}:slot:`,
  slot: (p: number, id: string) => `bg:{p${p}}:slot:${id}`,
  coordinators: 'bg:coordinators',
};

/** Slots outlive any envelope (max 60 s) but expire on their own if abandoned. */
export const SLOT_TTL_MS = 120_000;
