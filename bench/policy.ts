// npm run bench:policy — decision latency and fallback rate. Part 1: a policy
// service process (as deployed) answers batched policy.decide requests over
// NATS; the round trip is timed for 1, 100 and 1000 slots per strategy, PPO
// (onnxruntime) included. Part 2: the npm-start stack under coalescing load,
// reporting how many decision rounds fell back to the embedded strategy.
// Prints numbers; no thresholds.
import autocannon from 'autocannon';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realtimePrefix, startNats } from '#infra';
import { POLICY_NODE_ARGS, startStack } from '#stack';
import type { MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import { DecideReplySchema, DecideRequestSchema } from '#libs/contracts';
import { Bus, SUBJECTS } from '#libs/nats';
import type { SlotToDecide } from '#libs/policy';
import { deciderOf, encodeSlotBatch, seededRandom } from '#libs/policy';

const ROUNDS = Number(process.env.ROUNDS ?? 1000);
/** Seconds of load per fallback row. */
const LOAD_SECONDS = Number(process.env.LOAD_SECONDS ?? 10);
const SIZES = [1, 100, 1000];
const STRATEGIES = [
  ['fixed_timer', 'fixed_timer:window_ms=20'],
  ['size_cap', 'size_cap'],
  ['exponential', 'exponential:lambda=2'],
  ['queue_depth', 'queue_depth'],
  ['latency_aware', 'latency_aware'],
  ['adaptive_window', 'adaptive_window'],
  ['cost_aware', 'cost_aware'],
  ['qlearning', 'qlearning'],
  ['ppo', 'ppo'],
] as const;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

function slots(route: string, count: number, random: () => number): SlotToDecide[] {
  return Array.from({ length: count }, (_, i) => ({
    // UUID-length ids, as the coordinator sends.
    slotId: `0f8fad5b-d9cb-469f-a165-${String(i).padStart(12, '0')}`,
    route,
    features: {
      size: 1 + Math.floor(random() * 128),
      ageMs: random() * 50,
      upstreamP99Ms: random() * 200,
      requestRate: random() * 1000,
      queueDepth: Math.floor(random() * 200),
      observedP99Ms: random() * 100,
      idleMs: random() * 10,
      batchTimeoutMs: 50,
      maxBatchSize: 128,
    },
  }));
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

const ECHO_SUBJECT = 'bench.decide.echo';

/** Round trips of `request` to `subject`, after warm-up: sorted µs. */
async function roundTrips<S extends typeof DecideRequestSchema | typeof DecideReplySchema>(
  bus: Bus,
  subject: string,
  request: MessageInitShape<typeof DecideRequestSchema>,
  replySchema: S,
  check: (reply: MessageShape<S>) => void = () => undefined,
): Promise<number[]> {
  for (let i = 0; i < 200; i++) await bus.request(subject, DecideRequestSchema, request, replySchema, 1000);
  const samples: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const started = process.hrtime.bigint();
    const reply = await bus.request(subject, DecideRequestSchema, request, replySchema, 1000);
    samples.push(Number(process.hrtime.bigint() - started) / 1000);
    check(reply);
  }
  return samples.sort((a, b) => a - b);
}

const cell = (samples: number[]) => `${quantile(samples, 0.5).toFixed(0)} / ${quantile(samples, 0.99).toFixed(0)}`.padStart(28);

async function floorRow(bus: Bus, random: () => number, label: string): Promise<string> {
  const cells: string[] = [];
  for (const size of SIZES) {
    const request = { coordinatorId: 'bench', slots: encodeSlotBatch(slots('echo', size, random)) };
    // The client decodes the echoed request as it decodes a reply.
    cells.push(cell(await roundTrips(bus, ECHO_SUBJECT, request, DecideRequestSchema)));
  }
  return `${label.padEnd(16)}${cells.join('')}   ${'-'.padStart(10)}`;
}

async function decisionLatency(prefix: readonly string[]): Promise<string[]> {
  const nats = await startNats({ prefix });
  const dir = mkdtempSync(join(tmpdir(), 'bench-policy-'));
  const routes = join(dir, 'routes.yaml');
  writeFileSync(
    routes,
    ['routes:', ...STRATEGIES.flatMap(([name, spec]) => [`  - name: ${name}`, `    match: /${name}/`, `    policy: "${spec}"`])].join('\n'),
  );
  const node = (...args: string[]) => [...prefix, process.execPath, ...args];
  const policyCommand = node(...POLICY_NODE_ARGS, 'dist/apps/policy/src/main.js');
  const policy = spawn(policyCommand[0]!, policyCommand.slice(1), {
    env: { ...process.env, NATS_URL: nats.url, BATCHGATE_ROUTES_FILE: routes, BATCHGATE_LOG_LEVEL: 'warn', BATCHGATE_HTTP_PORT: '0' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  // The transport floor: a process that answers with the request's own bytes.
  const echoCommand = node(
    '--input-type=module',
    '-e',
    `import { connect } from '@nats-io/transport-node';
     const nc = await connect({ servers: process.env.NATS_URL });
     nc.subscribe('${ECHO_SUBJECT}', { callback: (error, msg) => { if (!error) msg.respond(msg.data); } });
     await nc.flush();
     console.log('echo ready');`,
  );
  const echo = spawn(echoCommand[0]!, echoCommand.slice(1), {
    env: { ...process.env, NATS_URL: nats.url },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = (child: ChildProcess) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
  const lines: string[] = [];
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the echo responder did not start within 10 s')), 10_000);
      echo.stdout.once('data', () => (clearTimeout(timer), resolve(null)));
      echo.once('exit', (code) => (clearTimeout(timer), reject(new Error(`the echo responder exited (${code})`))));
    });
    const bus = await Bus.connect({ url: nats.url, name: 'bench-policy', logger: quiet });
    for (
      let i = 0;
      i < 200 &&
      (await bus.request(SUBJECTS.decide, DecideRequestSchema, { slots: {} }, DecideReplySchema, 50).then(
        () => false,
        () => true,
      ));
      i++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const random = seededRandom(11);
    // The processes' first thousands of requests carry their start (JIT, first collections): not the steady state.
    const warm = { coordinatorId: 'bench', slots: encodeSlotBatch(slots('cost_aware', 100, random)) };
    for (let i = 0; i < 2000; i++) {
      await bus.request(ECHO_SUBJECT, DecideRequestSchema, warm, DecideRequestSchema, 1000);
      await bus.request(SUBJECTS.decide, DecideRequestSchema, warm, DecideReplySchema, 1000);
    }
    lines.push(
      `policy.decide round trip over NATS (coordinator -> policy process -> coordinator), ${schedulingLabel(prefix)}, ${ROUNDS} requests per cell after 2,000 + 200 warm-up`,
    );
    lines.push(
      `${'strategy'.padEnd(16)}${SIZES.map((n) => `${`${n} slot${n > 1 ? 's' : ''}: p50 / p99 µs`.padStart(28)}`).join('')}   in-service µs (100 slots, mean)`,
    );
    lines.push(await floorRow(bus, random, 'nats echo (floor)'));
    for (const [route] of STRATEGIES) {
      if (route === 'ppo' && !existsSync('fixtures/models/ppo-v3.onnx')) continue;
      if (route === 'qlearning' && !existsSync('fixtures/models/qtable-v1.json')) continue;
      const cells: string[] = [];
      let inService = 0;
      for (const size of SIZES) {
        const request = { coordinatorId: 'bench', slots: encodeSlotBatch(slots(route, size, random)) };
        let served = 0;
        const samples = await roundTrips(bus, SUBJECTS.decide, request, DecideReplySchema, (reply) => {
          served += reply.decisionUs;
          const decider = deciderOf(reply, 0).strategy;
          if (decider !== route) throw new Error(`route ${route} was decided by ${decider}`);
        });
        if (size === 100) inService = served / ROUNDS;
        cells.push(cell(samples));
      }
      lines.push(`${route.padEnd(16)}${cells.join('')}   ${inService.toFixed(0).padStart(10)}`);
    }
    lines.push(await floorRow(bus, random, 'echo, again'));
    lines.push(
      'floor: a bare responder process sends the request bytes straight back (no decode, no strategy); what a policy row adds over it is the policy service.',
    );
    await bus.close();
  } finally {
    echo.kill('SIGTERM');
    policy.kill('SIGTERM');
    await Promise.all([exited(echo), exited(policy)]);
    await nats.dispose();
  }
  return lines;
}

async function fallbackUnderLoad(prefix: readonly string[]): Promise<string[]> {
  const env = { ...process.env, BATCHGATE_LOG_LEVEL: 'warn', BATCHGATE_REALTIME_PRIORITY: prefix.at(-1) ?? '' };
  const stack = await startStack({ env, originDelayMs: 20 });
  try {
    const gateway = stack.urls.ingresses[0]!;
    const coordinator = Object.entries(stack.urls.services).find(([name]) => name.startsWith('coordinator'))![1];
    const scrape = async () => {
      const text = await (await fetch(`${coordinator}/metrics`)).text();
      const sum = (metric: string) =>
        text
          .split('\n')
          .filter((l) => l.startsWith(metric))
          .reduce((s, l) => s + Number(l.split(' ').pop()), 0);
      return {
        rounds: sum('batchgate_coordinator_decide_latency_seconds_count'),
        fallbacks: sum('batchgate_coordinator_policy_fallback_total'),
        flushes: sum('batchgate_coordinator_flush_total'),
        fallbackFlushes: sum('batchgate_coordinator_flush_total{reason="fallback"}'),
      };
    };
    await autocannon({ url: `${gateway}/api/warm`, connections: 20, duration: 2 });
    const lines = [
      '',
      `fallback rate under coalescing load (npm-start stack, 20 ms origin, autocannon ${LOAD_SECONDS} s per row, default policy), ${schedulingLabel(prefix)}`,
    ];
    // Closed-loop rows drive the 2-core machine to saturation (every process starved of CPU);
    // fixed-rate rows run below it. The CPU column is the whole machine's busy share
    // (load generator included), so a row's headroom is visible next to its fallback rate.
    for (const [workload, keys, connections, rate] of [
      ['hot key', 1, 100, 0],
      ['100 keys', 100, 100, 0],
      ['hot key', 1, 100, 1000],
      ['100 keys', 100, 100, 1000],
      ['100 keys', 100, 100, 500],
    ] as const) {
      const before = await scrape();
      const cpuBefore = cpuTimes();
      const probe = startWakeupProbe();
      const result = await autocannon({
        url: gateway,
        connections,
        duration: LOAD_SECONDS,
        ...(rate > 0 ? { overallRate: rate } : {}),
        requests: [{ setupRequest: (r) => ({ ...r, path: `/api/item/${Math.floor(Math.random() * keys)}` }) }],
      });
      const after = await scrape();
      const cpuAfter = cpuTimes();
      const wakeup = await probe.stop();
      const busy = (cpuAfter.busy - cpuBefore.busy) / Math.max(1, cpuAfter.total - cpuBefore.total);
      // Slots the embedded strategy planned (batchgate_coordinator_policy_fallback_total counts slots since plans),
      // and the share of flushes made on such plans: the issue's "fallback share of flushes".
      const rounds = after.rounds - before.rounds;
      const fallbacks = after.fallbacks - before.fallbacks;
      const flushes = after.flushes - before.flushes;
      const fallbackFlushes = after.fallbackFlushes - before.fallbackFlushes;
      const load = rate > 0 ? `fixed ${rate} req/s` : 'closed loop (saturating)';
      lines.push(
        `${workload.padEnd(9)} ${load.padEnd(25)} ${result.requests.average.toFixed(0).padStart(5)} req/s, CPU ${(busy * 100).toFixed(0).padStart(3)} % busy, ${String(rounds).padStart(5)} decision rounds, ${String(fallbacks).padStart(4)} slots fell back, ${fallbackFlushes} of ${flushes} flushes by fallback = ${((fallbackFlushes / Math.max(1, flushes)) * 100).toFixed(3)} %; a 1 ms sleeper woke late by p99 ${wakeup.p99.toFixed(1)} / p99.9 ${wakeup.p999.toFixed(1)} / max ${wakeup.max.toFixed(1)} ms`,
      );
    }
    return lines;
  } finally {
    await stack.stop();
  }
}

/**
 * A bystander process that sleeps 1 ms in a loop and records how late it
 * wakes: what any process woken by a message waits for a CPU on this machine
 * while the row's load runs. It runs at the normal priority and takes no part
 * in the decision path; its numbers sit next to the fallback rate.
 */
interface Wakeups {
  p99: number;
  p999: number;
  max: number;
  samples: number;
}

function startWakeupProbe(): { stop(): Promise<Wakeups> } {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const late = [];
       let stopped = false;
       process.on('SIGTERM', () => (stopped = true));
       const step = () => {
         if (stopped) {
           process.stdout.write(JSON.stringify(late));
           return;
         }
         const asked = performance.now();
         setTimeout(() => { late.push(performance.now() - asked - 1); step(); }, 1);
       };
       step();`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return {
    stop: () =>
      new Promise((resolve, reject) => {
        child.once('exit', () => {
          try {
            const late = (JSON.parse(out) as number[]).sort((a, b) => a - b);
            const q = (p: number) => (late.length > 0 ? quantile(late, p) : 0);
            resolve({ p99: q(0.99), p999: q(0.999), max: q(1), samples: late.length });
          } catch {
            reject(new Error(`the wake-up probe printed no result: ${out}`));
          }
        });
        child.kill('SIGTERM');
      }),
  };
}

/** Jiffies the machine's CPUs spent busy and in all (the first line of /proc/stat). */
function cpuTimes(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = fields[3]! + fields[4]!; // idle + iowait
  return { busy: total - idle, total };
}

function schedulingLabel(prefix: readonly string[]): string {
  return prefix.length > 0 ? `decision path at SCHED_RR ${prefix.at(-1)} (BATCHGATE_REALTIME_PRIORITY)` : 'default scheduler';
}

// PARTS=latency or PARTS=fallback runs one part only. Each part runs with the
// default scheduler, then with the decision path at a real-time priority
// (SCHED=default or SCHED=realtime runs one); the second is skipped, with the
// reason, where the system refuses real-time scheduling.
const parts = (process.env.PARTS ?? 'latency,fallback').split(',');
const schedules: Array<readonly string[]> = [];
const report: string[] = [];
if (process.env.SCHED !== 'realtime') schedules.push([]);
if (process.env.SCHED !== 'default') {
  try {
    schedules.push(realtimePrefix(process.env.BATCHGATE_REALTIME_PRIORITY || '1'));
  } catch (error) {
    report.push(`real-time rows skipped: ${(error as Error).message}`);
  }
}
for (const prefix of schedules) {
  if (parts.includes('latency')) report.push(...(await decisionLatency(prefix)), '');
}
for (const prefix of schedules) {
  if (parts.includes('fallback')) report.push(...(await fallbackUnderLoad(prefix)));
}
console.log(`\n${report.join('\n')}`);
process.exit(0);
