// npm run test:faults — what clients see when a process dies under load. Starts
// the fleet the way `npm start` does (its launcher as a child: 2 ingresses, 2
// coordinators, 2 workers, policy, telemetry, nats-server, redis-server, a demo
// origin answering in 20 ms), sends bounded open-loop load through both
// ingresses, and kills one process at a time with SIGKILL: each fault's window
// gets its requests, errors by kind, latency, and the recovery time (from the
// kill until the process is back and the last failing request was sent).
// Prints a table and writes it into docs/reliability.md. Bounded: ~3-4 minutes.
import { cpus, loadavg } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';
import { launchStack } from '#launcher';
import type { LaunchedStack } from '#launcher';
import type { WindowStats } from './faults-load.js';
import { openLoop, windowStats } from './faults-load.js';

const RATE = Number(process.env.FAULT_RATE ?? 300);
/** How long after each kill requests are counted in its window. */
const OBSERVE_MS = Number(process.env.FAULT_OBSERVE_S ?? 10) * 1000;
/** A client's deadline: longer than the 10 s upstream timeout + 2 s grace, so a stall shows as latency. */
const CLIENT_TIMEOUT_MS = 15_000;
const ALL = ['ingress-0', 'coordinator-0', 'policy-0', 'worker-0', 'telemetry', 'redis-server', 'nats-server'];
const FAULTS = process.env.FAULTS ? process.env.FAULTS.split(',') : ALL;
const DOC = new URL('../../docs/reliability.md', import.meta.url).pathname;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function serves(url: string | undefined): Promise<boolean> {
  if (!url) return true;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** Resolves at the time `name` runs under a new pid (the launcher restarted it) and its readiness URL answers 200. */
async function backAfterRestart(stack: LaunchedStack, name: string, oldPid: number, untilMs: number): Promise<number | undefined> {
  while (Date.now() < untilMs) {
    const proc = stack.state().processes[name];
    if (proc && proc.pid !== oldPid && (await serves(proc.readyUrl))) return Date.now();
    await sleep(50);
  }
  return undefined;
}

async function fleetReady(stack: LaunchedStack): Promise<void> {
  const until = Date.now() + 60_000;
  for (const [name, proc] of Object.entries(stack.state().processes)) {
    while (!(await serves(proc.readyUrl))) {
      if (Date.now() > until) throw new Error(`${name} is not ready (${proc.readyUrl}); see ${proc.log}`);
      await sleep(200);
    }
  }
}

interface Window {
  fault: string;
  from: number;
  to: number;
  backMs: number | undefined;
}

interface Row extends Window {
  stats: WindowStats;
  recoveryMs: number | undefined;
}

const stack = await launchStack({
  ingresses: 2,
  env: {
    BATCHGATE_COORDINATOR_REPLICAS: '2',
    BATCHGATE_WORKER_REPLICAS: '2',
    BATCHGATE_DEMO_DELAY_MS: '20',
    BATCHGATE_HOST: '127.0.0.1',
    BATCHGATE_LOG_LEVEL: 'warn',
  },
});
const load = openLoop({ gateways: stack.gateways, rate: RATE, timeoutMs: CLIENT_TIMEOUT_MS });
const windows: Window[] = [];
const startedAt = new Date();
const load1 = loadavg()[0]!;
try {
  // Warm-up: the client opens its connections, JIT and caches settle.
  await sleep(10_000);
  await fleetReady(stack);
  const baselineFrom = Date.now();
  await sleep(5000);
  windows.push({ fault: 'none (baseline, 5 s)', from: baselineFrom, to: Date.now(), backMs: 0 });
  for (const name of FAULTS) {
    await fleetReady(stack);
    await sleep(2000);
    const { pid } = stack.state().processes[name]!;
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    process.stdout.write(`killed ${name} (pid ${pid}) ... `);
    const back = await backAfterRestart(stack, name, pid, killedAt + 60_000);
    const windowEnd = Math.max(killedAt + OBSERVE_MS, (back ?? killedAt) + 3000);
    // The window's last requests may take their whole deadline; the next kill waits for them.
    await sleep(Math.max(0, windowEnd - Date.now()) + CLIENT_TIMEOUT_MS + 500);
    const backMs = back === undefined ? undefined : back - killedAt;
    windows.push({ fault: `kill -9 ${name}`, from: killedAt, to: windowEnd, backMs });
    process.stdout.write(`back after ${backMs ?? '—'} ms\n`);
  }
} finally {
  await load.stop();
  await stack.stop();
}

// Every request has completed or failed by now, so each window's numbers are whole.
const rows: Row[] = windows.map((w) => {
  const stats = windowStats(load.outcomes, w.from, w.to);
  const recoveryMs = w.backMs === undefined ? undefined : Math.max(w.backMs, stats.lastFailureMs ?? 0);
  return { ...w, stats, recoveryMs };
});
const seconds = (ms: number | undefined) => (ms === undefined ? 'not back in 60 s' : `${(ms / 1000).toFixed(1)} s`);
const errors = (e: Record<string, number>) =>
  Object.entries(e)
    .sort(([, a], [, b]) => b - a)
    .map(([kind, n]) => `${n} ${kind}`)
    .join(', ') || '0';
const header = ['fault', 'requests', 'ok', 'errors by kind', 'p50 ms', 'p99 ms', 'max ms', 'process back', 'last error sent', 'recovery'];
const table = [
  `| ${header.join(' | ')} |`,
  `| ${header.map((_, i) => (i === 0 || i === 3 ? '---' : '---:')).join(' | ')} |`,
  ...rows.map(
    (r) =>
      `| ${[
        r.fault,
        r.stats.requests,
        r.stats.ok,
        errors(r.stats.errors),
        r.stats.p50,
        r.stats.p99,
        r.stats.max,
        r.fault.startsWith('none') ? '—' : seconds(r.backMs),
        r.stats.lastFailureMs === undefined ? '—' : seconds(r.stats.lastFailureMs),
        r.fault.startsWith('none') ? '—' : seconds(r.recoveryMs),
      ].join(' | ')} |`,
  ),
].join('\n');
const cpu = cpus();
const machine = `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}, load average ${load1.toFixed(2)} at the start (the cores are shared with the load generator and anything else running)`;
const section = [
  '<!-- faults:begin (written by npm run test:faults) -->',
  `Measured ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC with \`npm run test:faults\`` +
    `${process.env.FAULTS ? ` (FAULTS=${process.env.FAULTS})` : ''}: ${RATE} req/s open loop over both ingresses, ` +
    `a window of ${OBSERVE_MS / 1000} s after each kill (longer if the process took longer to come back), client deadline ${CLIENT_TIMEOUT_MS / 1000} s.`,
  `Machine: ${machine}.`,
  '',
  table,
  '<!-- faults:end -->',
].join('\n');
console.log(`\n${section}\n`);
const doc = readFileSync(DOC, 'utf8');
const marked = /<!-- faults:begin[^]*?<!-- faults:end -->/;
const updated = marked.test(doc) ? doc.replace(marked, section) : `${doc.trimEnd()}\n\n${section}\n`;
// Formatted as `npm run lint` (prettier --check) wants it, so a rerun leaves nothing to fix by hand.
writeFileSync(DOC, await format(updated, { ...(await resolveConfig(DOC)), parser: 'markdown' }));
console.log(`written to ${DOC}`);
