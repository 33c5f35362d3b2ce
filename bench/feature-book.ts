// npm run build && node --expose-gc dist/bench/feature-book.js — issue 12 item 15: per-key rate state
// stays bounded in the live services. Feeds 500,000 distinct keys (one arrival each, 0.02 ms apart,
// i.e. 50K new keys/s for 10 s) through the coordinator's path (each arrival recorded in its
// FeatureBook as SlotMembership does, its DecisionLoop ticking every ms on a driven clock) and the
// ingress's (LocalFlusher.recordArrival, as every coalescible request does), then lets 20 s pass with
// no traffic. Prints tracked keys and heap (after a full GC) before, after the flood and after idling,
// and the same flood into a FeatureBook with no cap or expiry (what the services kept before).
import { Registry } from '#libs/metrics';
import type { Bus } from '#libs/nats';
import { createStrategy, FeatureBook } from '#libs/policy';
import { DecisionLoop } from '../apps/coordinator/src/decision-loop.js';
import { CoordinatorMetrics } from '../apps/coordinator/src/metrics.js';
import { SlotTable } from '../apps/coordinator/src/slot-table.js';
import { LocalFlusher } from '../apps/ingress/src/fallback.js';

const KEYS = Number(process.env.BENCH_KEYS ?? 500_000);
const GAP_MS = 0.02;
const IDLE_MS = 20_000;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function heapMb(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

function row(label: string, keys: number, heap: number, base: number): void {
  console.log(
    `${label.padEnd(44)} ${String(keys).padStart(8)} keys  heap ${heap.toFixed(1).padStart(7)} MB  (${(heap - base >= 0 ? '+' : '') + (heap - base).toFixed(1)} MB)`,
  );
}

function coordinator(): void {
  let now = 0;
  const features = new FeatureBook();
  const loop = new DecisionLoop({
    bus: { request: () => new Promise(() => undefined) } as unknown as Pick<Bus, 'request'>,
    table: new SlotTable(),
    features,
    dispatcher: { flush: () => undefined, sendNotices: () => undefined },
    fallback: createStrategy({ name: 'fixed_timer', params: {} }),
    metrics: new CoordinatorMetrics(new Registry(), { openSlots: () => 0, partitions: () => 0, redisUp: () => true }),
    coordinatorId: 'bench',
    tickMs: 1,
    decisionTimeoutMs: 5,
    now: () => now,
  });
  const base = heapMb();
  row('coordinator: before', features.trackedKeys, base, base);
  let nextTick = 0;
  for (let k = 0; k < KEYS; k++) {
    now = k * GAP_MS;
    features.recordArrivals(`GET /items/${k}?q=${k}`, now);
    if (now < nextTick) continue;
    loop.tick();
    nextTick += 1;
  }
  row(`coordinator: after ${KEYS} distinct keys`, features.trackedKeys, heapMb(), base);
  for (const end = now + IDLE_MS; now < end; now += 1) loop.tick();
  row(`coordinator: after ${IDLE_MS / 1000} s idle`, features.trackedKeys, heapMb(), base);
}

function ingress(): void {
  const flusher = new LocalFlusher(createStrategy({ name: 'fixed_timer', params: {} }), () => undefined);
  const base = heapMb();
  row('ingress: before', flusher.trackedKeys, base, base);
  let now = 0;
  for (let k = 0; k < KEYS; k++) flusher.recordArrival(`GET /items/${k}?q=${k}`, (now = k * GAP_MS));
  row(`ingress: after ${KEYS} distinct keys`, flusher.trackedKeys, heapMb(), base);
  // The ingress runs the expiry schedule on arrivals while no local slot ticks: one arrival after the idle time.
  flusher.recordArrival('GET /later', now + IDLE_MS);
  row(`ingress: after ${IDLE_MS / 1000} s idle + 1 arrival`, flusher.trackedKeys, heapMb(), base);
}

function unbounded(): void {
  const book = new FeatureBook(undefined, Infinity);
  const base = heapMb();
  for (let k = 0; k < KEYS; k++) book.recordArrivals(`GET /items/${k}?q=${k}`, k * GAP_MS);
  row(`no cap, no expiry: after ${KEYS} keys`, book.trackedKeys, heapMb(), base);
}

coordinator();
ingress();
unbounded();
