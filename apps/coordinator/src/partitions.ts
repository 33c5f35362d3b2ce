import type { Redis } from 'ioredis';
import { performance } from 'node:perf_hooks';
import type { Logger } from '#libs/tracing';
import { redisKeys, SLOT_TTL_MS } from './redis-keys.js';

// 1 = renewed; 2 = the key was gone (Redis restarted or the lease lapsed
// while frozen) and nobody else took it, so it is ours again; 0 = lost.
// The holder also pushes back the expiry of the partition's slot index
// (KEYS[2]) when it wrote slots there since its last round (ARGV[3] > 0):
// once per round instead of once per opened slot, and never on a quiet
// partition, so the index still expires on its own (after ARGV[3] ms, longer
// than any slot lives) once no coordinator writes to it.
const RENEW_LUA = `
local holder = redis.call('GET', KEYS[1])
local result = 0
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) result = 1
elseif not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) result = 2 end
if result > 0 and tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return result
`;
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

type LeaseCommands = {
  bgRenew(lease: string, index: string, owner: string, ttlMs: number, indexTtlMs: number): Promise<number>;
  bgRelease(key: string, owner: string): Promise<number>;
};

export interface PartitionListener {
  /** Called once a lease is held; the slots persisted for it should be loaded. */
  acquired(partition: number): Promise<void>;
  /** Called when a lease is lost or released; its slots are no longer ours. */
  lost(partition: number): void;
}

export interface LeaseOptions {
  owner: string;
  partitions: number;
  ttlMs: number;
  /** Partitions whose slot index was written since the last call (SlotStore.takeWritten): their index expiry is renewed. */
  written?: () => ReadonlySet<number>;
}

/**
 * Partition ownership by leases in Redis. Each round (every ttl/3) this
 * coordinator heartbeats, renews what it holds, releases what exceeds its fair
 * share ceil(P / live coordinators) and takes free partitions up to it. A dead
 * coordinator's leases expire and are taken by the others within a round
 * (ttl/3) of their expiry. While Redis is
 * unreachable ownership is frozen: the partitions held keep being served from
 * memory, and nothing new is taken.
 */
export class PartitionLeases {
  readonly owned = new Set<number>();
  /** The coordinators heartbeating at the last round (this one included). */
  live: readonly string[] = [];
  redisUp = true;
  /**
   * Per held partition, the monotonic time (performance.now) until which the
   * lease is certainly still ours: the send time of the last command that set
   * it, plus its TTL. Nobody else can take a lease before it expires (SET NX).
   */
  private readonly heldUntil = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly redis: Redis & LeaseCommands;

  constructor(
    redis: Redis,
    private readonly options: LeaseOptions,
    private readonly listener: PartitionListener,
    private readonly logger: Logger,
  ) {
    redis.defineCommand('bgRenew', { numberOfKeys: 2, lua: RENEW_LUA });
    redis.defineCommand('bgRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
    this.redis = redis as Redis & LeaseCommands;
  }

  owns(partition: number): boolean {
    return this.owned.has(partition);
  }

  /**
   * Whether this coordinator certainly holds the lease right now, without
   * asking Redis: it was set or renewed less than two thirds of a TTL ago
   * (a round renews every third; the last third is the margin for clock
   * drift between this process and Redis). A slot flushed inside its
   * opening join is fenced by this instead of a script (membership.ts).
   */
  holdsSurely(partition: number): boolean {
    const until = this.heldUntil.get(partition);
    return until !== undefined && this.owned.has(partition) && performance.now() < until - this.options.ttlMs / 3;
  }

  async start(): Promise<void> {
    await this.round();
    this.schedule();
  }

  /** Stops renewing and, on a graceful stop, hands every partition back at once. */
  async stop(release: boolean): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!release) return;
    const owner = this.options.owner;
    await Promise.allSettled([...this.owned].map((p) => this.redis.bgRelease(redisKeys.lease(p), owner)));
    await this.redis.zrem(redisKeys.coordinators, owner).catch(() => undefined);
    for (const p of [...this.owned]) this.drop(p);
  }

  /** Forgets a partition this coordinator found it no longer holds. */
  drop(partition: number): void {
    this.heldUntil.delete(partition);
    if (this.owned.delete(partition)) this.listener.lost(partition);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => {
        void this.round().finally(() => this.schedule());
      },
      Math.max(20, Math.floor(this.options.ttlMs / 3)),
    );
  }

  private async round(): Promise<void> {
    const { owner, partitions, ttlMs } = this.options;
    try {
      const now = Date.now();
      const [, , members] = await this.redis
        .multi()
        .zadd(redisKeys.coordinators, now, owner)
        // A coordinator is live as long as its leases would be: one whose heartbeat is
        // older than a lease TTL has let its leases lapse, so counting it (as a 3 x TTL
        // window did) kept the survivors' fair share low and its partitions unowned for
        // 2-3 s, past the ingress's flush grace. Miscounting a slow one as dead is
        // nearly harmless: its leases are still held, so nobody can take them (only a
        // partition it just released and another takes fails its Flow B items early, 503).
        .zremrangebyscore(redisKeys.coordinators, '-inf', now - ttlMs)
        .zrange(redisKeys.coordinators, '0', '-1')
        .exec()
        .then((results) => (results ?? []).map(([error, value]) => (error ? undefined : value)));
      this.live = Array.isArray(members) ? members.map(String) : [owner];
      const target = Math.ceil(partitions / Math.max(1, this.live.length));
      await this.renew(owner, ttlMs);
      await this.release(owner, this.owned.size - target);
      await this.acquire(owner, ttlMs, target - this.owned.size);
      this.setRedisUp(true);
    } catch (error) {
      if (this.redisUp) this.logger.warn({ err: error }, 'Redis unreachable; partition ownership frozen');
      this.setRedisUp(false);
    }
  }

  private async renew(owner: string, ttlMs: number): Promise<void> {
    const held = [...this.owned];
    const written = this.options.written?.() ?? new Set<number>();
    const sentAt = performance.now();
    const results = await Promise.all(
      held.map((p) => this.redis.bgRenew(redisKeys.lease(p), redisKeys.index(p), owner, ttlMs, written.has(p) ? SLOT_TTL_MS : 0)),
    );
    held.forEach((p, i) => {
      if (results[i] === 0) {
        this.logger.warn({ partition: p }, 'partition lease lost');
        this.drop(p);
      } else this.heldUntil.set(p, sentAt + ttlMs);
    });
  }

  private async release(owner: string, excess: number): Promise<void> {
    for (const p of [...this.owned].slice(0, Math.max(0, excess))) {
      await this.redis.bgRelease(redisKeys.lease(p), owner);
      this.drop(p);
    }
  }

  private async acquire(owner: string, ttlMs: number, wanted: number): Promise<void> {
    if (wanted <= 0) return;
    const free = shuffled(Array.from({ length: this.options.partitions }, (_, p) => p).filter((p) => !this.owned.has(p)));
    for (const p of free) {
      if (wanted <= 0) break;
      const sentAt = performance.now();
      const ok = await this.redis.set(redisKeys.lease(p), owner, 'PX', ttlMs, 'NX');
      if (ok !== 'OK') continue;
      this.owned.add(p);
      this.heldUntil.set(p, sentAt + ttlMs);
      wanted--;
      await this.listener.acquired(p);
    }
  }

  private setRedisUp(up: boolean): void {
    if (up && !this.redisUp) this.logger.info('Redis reachable again; partition ownership resumed');
    this.redisUp = up;
  }
}

function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
