import type { JoinRequest } from '#libs/contracts';
import { fromBinary, JoinRequestSchema, toBinary } from '#libs/contracts';
import type { Redis } from 'ioredis';
import { redisKeys, SLOT_TTL_MS } from './redis-keys.js';

// Create-or-join, atomically and only while this coordinator holds the
// partition's lease (the lease check fences a coordinator that lost it).
// Opening is 5 commands inside one script: the slot is one hash (its TTL set
// here), found through the partition's index hash (whose TTL the lease
// renewal refreshes, partitions.ts). The hash keeps waiters per member
// ingress (m:<id>), whose sum is the slot's size: one HINCRBY per join or report. A join sent without the opening request
// (ARGV[6] empty: the coordinator believed the slot open) that finds none
// answers 'unknown' and is sent again with it.
const JOIN_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'not_owner', ''} end
local id = redis.call('HGET', KEYS[2], ARGV[9])
if id then
  local slotKey = ARGV[8] .. id
  if redis.call('EXISTS', slotKey) == 1 then
    redis.call('HINCRBY', slotKey, 'm:' .. ARGV[3], ARGV[4])
    redis.call('HSET', slotKey, 'last_at', ARGV[5])
    return {'joined', id}
  end
end
if ARGV[6] == '' then return {'unknown', ''} end
id = ARGV[2]
local slotKey = ARGV[8] .. id
redis.call('HSET', slotKey, 'opened_at', ARGV[5], 'last_at', ARGV[5], 'm:' .. ARGV[3], ARGV[4], 'req', ARGV[6])
redis.call('PEXPIRE', slotKey, ARGV[7])
redis.call('HSET', KEYS[2], ARGV[9], id)
return {'opened', id}
`;

// One script per count report (one ingress, one partition): KEYS are its
// slots, ARGV[2 + i] the delta of KEYS[i]. Slots already closed are skipped.
const REPORT_LUA = `
local field = 'm:' .. ARGV[1]
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    redis.call('HINCRBY', key, field, ARGV[2 + i])
    redis.call('HSET', key, 'last_at', ARGV[2])
  end
end
return 1
`;

// The index entry goes only if it still names this slot (a stale coordinator
// must not unlink a newer owner's slot of the same key).
const CLOSE_LUA = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('DEL', KEYS[2])
return 1
`;

type SlotCommands = {
  bgJoin(...args: Array<string | number | Buffer>): Promise<[string, string]>;
  bgReportMany(numberOfKeys: number, ...args: Array<string | number>): Promise<number>;
  bgClose(...args: Array<string | number>): Promise<number>;
};

export type JoinOutcome = { status: 'opened' | 'joined'; slotId: string } | { status: 'not_owner' };

/** A slot as persisted, for the coordinator that takes a partition over. */
export interface StoredSlot {
  id: string;
  openedAtMs: number;
  lastArrivalMs: number;
  size: number;
  members: Map<string, number>;
  opening: JoinRequest;
}

/** The fleet-wide slot table in Redis, all writes through Lua scripts (EVALSHA, loaded once by ioredis). */
export class SlotStore {
  private readonly redis: Redis & SlotCommands;
  /** Partitions whose index a join script may have written since takeWritten() was last called. */
  private written = new Set<number>();

  constructor(redis: Redis) {
    redis.defineCommand('bgJoin', { numberOfKeys: 2, lua: JOIN_LUA });
    redis.defineCommand('bgReportMany', { lua: REPORT_LUA });
    redis.defineCommand('bgClose', { numberOfKeys: 2, lua: CLOSE_LUA });
    this.redis = redis as Redis & SlotCommands;
  }

  /**
   * `believedOpen`: this coordinator holds an open slot for the key, so the
   * opening request (the bulk of the arguments) is left out unless Redis
   * turns out not to have it.
   */
  async join(owner: string, newSlotId: string, request: JoinRequest, nowMs: number, believedOpen = false): Promise<JoinOutcome> {
    const first = await this.joinWith(owner, newSlotId, request, nowMs, believedOpen ? '' : encode(request));
    const [status, slotId] = first[0] === 'unknown' ? await this.joinWith(owner, newSlotId, request, nowMs, encode(request)) : first;
    // Marked once the script ran, so a round that read the marks before it still leaves this one for the next round.
    if (status === 'opened') this.written.add(request.partition);
    return status === 'not_owner' ? { status } : { status: status as 'opened' | 'joined', slotId };
  }

  private joinWith(owner: string, newSlotId: string, request: JoinRequest, nowMs: number, opening: Buffer | ''): Promise<[string, string]> {
    const p = request.partition;
    return this.redis.bgJoin(
      redisKeys.lease(p),
      redisKeys.index(p),
      owner,
      newSlotId,
      request.ingressId,
      request.count,
      nowMs,
      opening,
      SLOT_TTL_MS,
      redisKeys.slotPrefix(p),
      request.key,
    );
  }

  /** The partitions written since the last call; the lease renewal pushes back their index's expiry (partitions.ts). */
  takeWritten(): ReadonlySet<number> {
    const written = this.written;
    this.written = new Set();
    return written;
  }

  /** One ingress's count deltas for slots of one partition, in one script call. */
  async report(
    partition: number,
    ingressId: string,
    counts: ReadonlyArray<{ slotId: string; delta: number }>,
    nowMs: number,
  ): Promise<void> {
    if (counts.length === 0) return;
    const keys = counts.map(({ slotId }) => redisKeys.slot(partition, slotId));
    await this.redis.bgReportMany(keys.length, ...keys, ingressId, nowMs, ...counts.map(({ delta }) => delta));
  }

  async close(partition: number, slotId: string, key: string): Promise<void> {
    await this.redis.bgClose(redisKeys.index(partition), redisKeys.slot(partition, slotId), key, slotId);
  }

  /** Every open slot persisted for a partition (index entries of expired slots are pruned). */
  async load(partition: number): Promise<StoredSlot[]> {
    const index = await this.redis.hgetall(redisKeys.index(partition));
    const slots: StoredSlot[] = [];
    for (const [key, id] of Object.entries(index)) {
      const hash = await this.redis.hgetallBuffer(redisKeys.slot(partition, id));
      if (hash.req?.length) slots.push(stored(id, hash, fromBinary(JoinRequestSchema, hash.req)));
      else await this.redis.hdel(redisKeys.index(partition), key);
    }
    return [...slots, ...(await this.loadLegacy(partition))];
  }

  /** Slots a coordinator of the previous layout opened (a rolling upgrade's takeover); they are read, never written. */
  private async loadLegacy(partition: number): Promise<StoredSlot[]> {
    const slots: StoredSlot[] = [];
    for (const id of await this.redis.smembers(redisKeys.legacySlots(partition))) {
      const hash = await this.redis.hgetallBuffer(redisKeys.slot(partition, id));
      if (hash.join?.length) slots.push(stored(id, hash, fromBinary(JoinRequestSchema, Buffer.from(hash.join.toString(), 'base64'))));
      else await this.redis.srem(redisKeys.legacySlots(partition), id);
    }
    return slots;
  }
}

function encode(request: JoinRequest): Buffer {
  const bytes = toBinary(JoinRequestSchema, request);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function stored(id: string, hash: Record<string, Buffer>, opening: JoinRequest): StoredSlot {
  const members = new Map<string, number>();
  let size = 0;
  for (const [field, value] of Object.entries(hash)) {
    if (!field.startsWith('m:')) continue;
    members.set(field.slice(2), Number(value.toString()));
    size += Number(value.toString());
  }
  const num = (field: string) => Number(hash[field]?.toString());
  return { id, openedAtMs: num('opened_at'), lastArrivalMs: num('last_at'), size, members, opening };
}
