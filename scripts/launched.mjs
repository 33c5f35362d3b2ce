// Runs `npm start`'s launcher (scripts/start.mjs --no-build) as a child process
// on free ports with its own run directory, the way a user runs it: the
// launcher e2e and the fault suite (bench/faults.ts) drive it from outside,
// signal its processes by the pids in <runDir>/stack.json and read what it says.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

const isFree = (port) =>
  new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });

/**
 * `count` consecutive free ports (ingress replicas listen on BATCHGATE_PORT, +1, ...), below the
 * kernel's ephemeral range: a port from there (what listen(0) hands out) can be taken by any
 * outgoing connection of the fleet before the ingress binds it.
 */
export async function freePortRun(count) {
  let ephemeralStart = 32768;
  try {
    ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // not Linux: the usual default
  }
  const low = Math.max(1024, ephemeralStart - 12_000);
  for (;;) {
    const first = low + Math.floor(Math.random() * (ephemeralStart - low - count));
    let ok = true;
    for (let i = 0; ok && i < count; i++) ok = await isFree(first + i);
    if (ok) return first;
  }
}

/**
 * Starts the launcher with `env` on top of this process's environment (gateway on
 * free ports, nats-server and redis-server started by it) and resolves once it
 * printed "batchgate is up". `lines` collects everything it prints.
 */
export async function launchStack({ env = {}, ingresses = 1, timeoutMs = 90_000 } = {}) {
  const runDir = mkdtempSync(join(tmpdir(), 'batchgate-launcher-'));
  const port = await freePortRun(ingresses);
  const childEnv = {
    ...process.env,
    BATCHGATE_PORT: String(port),
    BATCHGATE_INGRESS_REPLICAS: String(ingresses),
    BATCHGATE_RUN_DIR: runDir,
  };
  for (const name of ['NATS_URL', 'REDIS_URL', 'BATCHGATE_UPSTREAM']) delete childEnv[name];
  const child = spawn(process.execPath, [join(root, 'scripts/start.mjs'), '--no-build'], {
    env: { ...childEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  const waiters = new Set();
  let pending = '';
  const onData = (chunk) => {
    pending += chunk.toString();
    const parts = pending.split('\n');
    pending = parts.pop();
    for (const line of parts) {
      lines.push(line);
      for (const waiter of waiters) waiter();
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  /** Resolves with the first line (seen so far or later) matching `pattern`; rejects after `ms`. */
  const waitForLine = (pattern, ms = 30_000, from = 0) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const line = lines.slice(from).find((l) => pattern.test(l));
        if (line === undefined) return false;
        finish();
        resolve(line);
        return true;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`the launcher did not print ${pattern} within ${ms} ms; it printed:\n${lines.join('\n')}`));
      }, ms);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      if (!check()) waiters.add(check);
    });

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(runDir, { recursive: true, force: true });
  };

  try {
    await Promise.race([
      waitForLine(/batchgate is up/, timeoutMs),
      exited.then(({ code, signal }) => {
        throw new Error(`the launcher exited (${signal ?? code}) before it was up:\n${lines.join('\n')}`);
      }),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    child,
    lines,
    runDir,
    gatewayPort: port,
    gateways: Array.from({ length: ingresses }, (_, i) => `http://127.0.0.1:${port + i}`),
    /** <runDir>/stack.json as it is now: { launcher, processes: { name: { pid, readyUrl, log } } }. */
    state: () => JSON.parse(readFileSync(join(runDir, 'stack.json'), 'utf8')),
    waitForLine,
    exited,
    stop,
  };
}
