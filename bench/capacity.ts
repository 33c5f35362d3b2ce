// npm run bench:capacity — what each component costs per request, and what a
// 100K req/s fleet would need. Runs the npm-start stack at a fixed, modest
// request rate (so nothing saturates) for a hot-key and a 100-key workload,
// and reads CPU seconds per service, NATS messages (nats-server /varz), Redis
// commands and origin calls. CPU time per request is robust to a noisy
// machine in a way that wall-clock throughput is not. Prints numbers.
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { startStack } from '#stack';

const RATE = Number(process.env.BENCH_RATE ?? 1500);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const TARGET_RPS = 100_000;
/** Plan replicas to run at 70 % of one core each (Node runs a service on one core). */
const UTILISATION = 0.7;

interface Snapshot {
  cpu: Record<string, number>;
  natsMessages: number;
  natsBytes: number;
  redisCommands: number;
  originCalls: number;
  requests: number;
}

async function text(url: string): Promise<string> {
  return (await fetch(url)).text();
}

const series = (metrics: string, name: string) =>
  metrics
    .split('\n')
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);

// BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles every service (profiles stay out of git).
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
const stack = await startStack({ env: { ...process.env, BATCHGATE_LOG_LEVEL: 'warn' }, originDelayMs: 20, nodeArgs });
const redis = new Redis(stack.env.REDIS_URL!);
try {
  const gateway = stack.urls.ingresses[0]!;
  const services: Record<string, string> = { ingress: `${stack.urls.operators[0]!}/metrics`, telemetry: stack.urls.metrics! };
  for (const [name, url] of Object.entries(stack.urls.services)) services[name.replace(/-\d+$/, '')] = `${url}/metrics`;

  const snapshot = async (): Promise<Snapshot> => {
    const cpu: Record<string, number> = {};
    let requests = 0;
    for (const [name, url] of Object.entries(services)) {
      const metrics = await text(url);
      cpu[name] = series(metrics, 'process_cpu_seconds_total');
      if (name === 'ingress') requests = series(metrics, 'batchgate_ingress_requests_total');
    }
    const varz = JSON.parse(await text(`${stack.env.NATS_MONITOR_URL}/varz`)) as { in_msgs: number; in_bytes: number };
    const info = await redis.info('stats');
    return {
      cpu,
      natsMessages: varz.in_msgs,
      natsBytes: varz.in_bytes,
      redisCommands: Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0),
      originCalls: ((await (await fetch(`${stack.env.BATCHGATE_UPSTREAM}/stats`)).json()) as { calls: number }).calls,
      requests,
    };
  };

  await autocannon({ url: `${gateway}/api/warm`, connections: 20, duration: 3 });
  const results: Array<{
    workload: string;
    per: Record<string, number>;
    batch: number;
    natsMsgs: number;
    natsBytes: number;
    redis: number;
    rps: number;
    p50: number;
    p99: number;
  }> = [];
  for (const [workload, keys] of [
    ['hot key', 1],
    ['100 keys', 100],
  ] as const) {
    const before = await snapshot();
    const run = await autocannon({
      url: gateway,
      connections: 100,
      overallRate: RATE,
      duration: DURATION_S,
      requests: [{ setupRequest: (r) => ({ ...r, path: `/api/item/${Math.floor(Math.random() * keys)}` }) }],
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = await snapshot();
    const requests = after.requests - before.requests;
    const per: Record<string, number> = {};
    for (const name of Object.keys(after.cpu)) per[name] = ((after.cpu[name]! - before.cpu[name]!) * 1e6) / requests;
    results.push({
      workload,
      per,
      batch: requests / Math.max(1, after.originCalls - before.originCalls),
      natsMsgs: (after.natsMessages - before.natsMessages) / requests,
      natsBytes: (after.natsBytes - before.natsBytes) / requests,
      redis: (after.redisCommands - before.redisCommands) / requests,
      rps: run.requests.average,
      p50: run.latency.p50,
      p99: run.latency.p99,
    });
  }

  const names = Object.keys(results[0]!.per);
  console.log(`\nper-request cost at a fixed ${RATE} req/s (${DURATION_S} s, 100 connections, 20 ms origin, default policy)\n`);
  console.log(
    ['workload'.padEnd(10), 'req/s', 'p50', 'p99', 'batch', ...names.map((n) => `${n} µs`), 'NATS msgs', 'NATS bytes', 'Redis cmds'].join(
      '  ',
    ),
  );
  for (const r of results) {
    console.log(
      [
        r.workload.padEnd(10),
        r.rps.toFixed(0).padStart(5),
        r.p50.toFixed(0).padStart(3),
        r.p99.toFixed(0).padStart(3),
        r.batch.toFixed(1).padStart(5),
        ...names.map((n) => r.per[n]!.toFixed(0).padStart(n.length + 3)),
        r.natsMsgs.toFixed(2).padStart(9),
        r.natsBytes.toFixed(0).padStart(10),
        r.redis.toFixed(3).padStart(10),
      ].join('  '),
    );
  }
  console.log(
    `\nextrapolated to ${TARGET_RPS.toLocaleString()} req/s (cores = CPU-µs per request × rate; replicas at ${UTILISATION * 100} % of a core each)\n`,
  );
  for (const r of results) {
    const parts = names.map((n) => {
      const cores = (r.per[n]! * TARGET_RPS) / 1e6;
      return `${n} ${cores.toFixed(1)} cores (${Math.max(1, Math.ceil(cores / UTILISATION))} replicas)`;
    });
    console.log(`${r.workload} (batch ${r.batch.toFixed(1)}): ${parts.join(', ')}`);
    console.log(
      `   NATS ${((r.natsMsgs * TARGET_RPS) / 1000).toFixed(0)}K msgs/s (${((r.natsBytes * TARGET_RPS) / 1e6).toFixed(0)} MB/s in), Redis ${((r.redis * TARGET_RPS) / 1000).toFixed(1)}K cmds/s, origin ${(TARGET_RPS / r.batch).toFixed(0)} calls/s`,
    );
  }
} finally {
  redis.disconnect();
  await stack.stop();
}
