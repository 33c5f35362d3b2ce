import type { JoinRequest } from '#libs/contracts';
import { fromBinary, JoinRequestSchema, toBinary } from '#libs/contracts';
import type { Redis } from 'ioredis';
import { redisKeys, SLOT_TTL_MS } from './redis-keys.js';

// Create-or-join, atomically and only while this coordinator holds the
// partition's lease (the lease check fences a coordinator that lost it).
const JOIN_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'not_owner', ''} end
local id = redis.call('GET', KEYS[2])
if id then
  local slotKey = ARGV[8] .. id
  if redis.call('EXISTS', slotKey) == 1 then
    redis.call('HINCRBY', slotKey, 'size', ARGV[4])
    redis.call('HINCRBY', slotKey, 'm:' .. ARGV[3], ARGV[4])
    redis.call('HSET', slotKey, 'last_at', ARGV[5])
    return {'joined', id}
  end
end
id = ARGV[2]
local slotKey = ARGV[8] .. id
redis.call('HSET', slotKey, 'opened_at', ARGV[5], 'last_at', ARGV[5], 'size', ARGV[4], 'm:' .. ARGV[3], ARGV[4], 'join', ARGV[6])
redis.call('PEXPIRE', slotKey, ARGV[7])
redis.call('SET', KEYS[2], id, 'PX', ARGV[7])
redis.call('SADD', KEYS[3], id)
redis.call('PEXPIRE', KEYS[3], ARGV[7])
return {'opened', id}
`;

const REPORT_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'size', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'm:' .. ARGV[1], ARGV[2])
redis.call('HSET', KEYS[1], 'last_at', ARGV[3])
return 1
`;

const CLOSE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return 1
`;

type SlotCommands = {
  bgJoin(...args: Array<string | number>): Promise<[string, string]>;
  bgReport(...args: Array<string | number>): Promise<number>;
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

/** The fleet-wide slot table in Redis, all writes through Lua scripts. */
export class SlotStore {
  private readonly redis: Redis & SlotCommands;

  constructor(redis: Redis) {
    redis.defineCommand('bgJoin', { numberOfKeys: 3, lua: JOIN_LUA });
    redis.defineCommand('bgReport', { numberOfKeys: 1, lua: REPORT_LUA });
    redis.defineCommand('bgClose', { numberOfKeys: 3, lua: CLOSE_LUA });
    this.redis = redis as Redis & SlotCommands;
  }

  async join(owner: string, newSlotId: string, request: JoinRequest, nowMs: number): Promise<JoinOutcome> {
    const p = request.partition;
    const encoded = Buffer.from(toBinary(JoinRequestSchema, request)).toString('base64');
    const [status, slotId] = await this.redis.bgJoin(
      redisKeys.lease(p),
      redisKeys.open(p, request.key),
      redisKeys.slots(p),
      owner,
      newSlotId,
      request.ingressId,
      request.count,
      nowMs,
      encoded,
      SLOT_TTL_MS,
      redisKeys.slotPrefix(p),
    );
    return status === 'not_owner' ? { status } : { status: status as 'opened' | 'joined', slotId };
  }

  async report(partition: number, slotId: string, ingressId: string, delta: number, nowMs: number): Promise<void> {
    await this.redis.bgReport(redisKeys.slot(partition, slotId), ingressId, delta, nowMs);
  }

  async close(partition: number, slotId: string, key: string): Promise<void> {
    await this.redis.bgClose(redisKeys.open(partition, key), redisKeys.slots(partition), redisKeys.slot(partition, slotId), slotId);
  }

  /** Every open slot persisted for a partition (expired ones are pruned from the index). */
  async load(partition: number): Promise<StoredSlot[]> {
    const ids = await this.redis.smembers(redisKeys.slots(partition));
    const slots: StoredSlot[] = [];
    for (const id of ids) {
      const hash = await this.redis.hgetall(redisKeys.slot(partition, id));
      if (!hash.join) {
        await this.redis.srem(redisKeys.slots(partition), id);
        continue;
      }
      const members = new Map<string, number>();
      for (const [field, value] of Object.entries(hash)) {
        if (field.startsWith('m:')) members.set(field.slice(2), Number(value));
      }
      slots.push({
        id,
        openedAtMs: Number(hash.opened_at),
        lastArrivalMs: Number(hash.last_at),
        size: Number(hash.size),
        members,
        opening: fromBinary(JoinRequestSchema, Buffer.from(hash.join, 'base64')),
      });
    }
    return slots;
  }
}
