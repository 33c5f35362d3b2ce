// Brings up a whole batchgate stack from the built dist/: nats-server and
// redis-server (unless NATS_URL / REDIS_URL point elsewhere), a demo origin
// (unless BATCHGATE_UPSTREAM is set), then telemetry, policy, coordinators,
// workers and ingresses as separate processes. Used by `npm start` and the
// benchmarks, so what is measured is what a user runs.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, realtimePrefix, startNats, startRedis } from './infra.mjs';
import { supervise } from './supervisor.mjs';

const root = new URL('..', import.meta.url).pathname;

/** The service BATCHGATE_REALTIME_PRIORITY applies to besides nats-server (see realtimePrefix). */
const DECISION_PATH = ['/policy/'];

/**
 * Node flags of the policy service. A 64 MB young generation makes scavenges
 * rarer: at 100 slots per decide the default one paused the policy 3-10 ms
 * every ~60 ms, which was the whole decision p99 (measured with --trace-gc).
 */
export const POLICY_NODE_ARGS = ['--max-semi-space-size=64'];

/**
 * THE place that knows where an ingress serves /healthz, /readyz, /metrics and /admin (its
 * operator port): the settings its process gets and the base URL of those endpoints. The
 * launcher's readiness probe, the fault suite and the tests all read it from here
 * (stack.urls.ingressHealth = stack.urls.operators, .run/stack.json).
 */
async function ingressEndpoints(gatewayPort, nextPort) {
  // The gateway port proxies every path; health, metrics and the admin API are on the ingress's operator port.
  const operatorPort = await nextPort();
  return {
    env: { BATCHGATE_PORT: String(gatewayPort), BATCHGATE_HTTP_PORT: String(operatorPort) },
    healthUrl: `http://127.0.0.1:${operatorPort}`,
  };
}

async function isFree(port) {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

async function portOr(preferred) {
  return (await isFree(preferred)) ? preferred : freePort();
}

async function waitReady(url, timeoutMs, child) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) return false;
    try {
      // Bounded: a process that accepts and never answers (another server on the port) is not ready.
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.status === 200) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

function tail(file) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

/**
 * Starts the stack. `env` is the environment the services see (BATCHGATE_*,
 * NATS_URL, REDIS_URL ...); `nodeArgs` go to every service's node (e.g.
 * --cpu-prof for profiling). With `restart` (npm start) every process it started
 * is supervised (scripts/supervisor.mjs): restarted after an unexpected exit,
 * with backoff, until a crash loop or a bad configuration. Returns the URLs and
 * a stop() that ends everything it started.
 */
export async function startStack({
  env = process.env,
  runDir = join(root, '.run'),
  log = () => undefined,
  originDelayMs,
  nodeArgs = [],
  restart = false,
} = {}) {
  const logDir = join(runDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const started = [];
  const children = [];
  // <runDir>/stack.json: every process's pid and readiness URL, rewritten on each (re)start, so
  // an operator (or the fault suite) can find what to signal: jq '.processes["ingress-0"].pid'.
  const state = { launcher: process.pid, processes: {} };
  const record = (name, pid, readyUrl) => {
    state.processes[name] = { pid, readyUrl, log: join(logDir, `${name}.log`) };
    // Written aside and renamed, so a reader never sees a half-written file.
    writeFileSync(join(runDir, 'stack.json.tmp'), `${JSON.stringify(state, null, 2)}\n`);
    renameSync(join(runDir, 'stack.json.tmp'), join(runDir, 'stack.json'));
  };
  let stopping = false;
  const supervisors = [];
  /** Supervises `name` from `child` on; `start()` starts it again and resolves to its new process. */
  const keepRunning = (name, child, start, onStart, readyUrl) => {
    if (!restart) return;
    const supervisor = supervise({
      name,
      logFile: join(logDir, `${name}.log`),
      log,
      start,
      onStart,
      stopping: () => stopping,
      ready: (next) => (readyUrl ? waitReady(readyUrl, 60_000, next) : true),
    });
    supervisor.watch(child);
    supervisors.push(supervisor);
  };
  // A launcher that dies of an error leaves no services behind (infrastructure has its own watchdog).
  const orphanGuard = () => children.forEach(({ child }) => child.exitCode === null && child.kill('SIGTERM'));
  process.once('exit', orphanGuard);
  const stop = async () => {
    stopping = true;
    supervisors.forEach((supervisor) => supervisor.stop());
    await Promise.all(
      children.map(
        ({ child }) =>
          new Promise((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', resolve);
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 12_000).unref();
          }),
      ),
    );
    for (const proc of started.reverse()) await proc.dispose();
    process.off('exit', orphanGuard);
  };

  const count = (name, fallback) => Math.max(1, Number(env[name] ?? fallback));
  try {
    const shared = { ...env };
    const ingressPorts = Array.from({ length: count('BATCHGATE_INGRESS_REPLICAS', 1) }, (_, i) => Number(env.BATCHGATE_PORT ?? 8080) + i);
    // The gateway's ports are the user's, so they are not moved; and a process already there would
    // answer the readiness probe in a new replica's place. Checked before anything starts.
    for (const port of ingressPorts) {
      if (!(await isFree(port)))
        throw new Error(`port ${port} (BATCHGATE_PORT) is in use by another process; stop it or set BATCHGATE_PORT`);
    }
    const realtime = realtimePrefix(env.BATCHGATE_REALTIME_PRIORITY);
    if (realtime.length > 0) log(`real-time priority ${realtime.at(-1)} (SCHED_RR) for nats-server and the policy`);
    if (!env.NATS_URL) {
      const nats = await startNats({
        port: await portOr(Number(env.BATCHGATE_NATS_PORT ?? 4222)),
        storeDir: join(runDir, `nats-${process.pid}`),
        monitorPort: await portOr(Number(env.BATCHGATE_NATS_MONITOR_PORT ?? 8222)),
        prefix: realtime,
        logFile: join(logDir, 'nats-server.log'),
      });
      started.push(nats);
      const onStart = () => record('nats-server', nats.pid, `${nats.monitorUrl}/healthz`);
      onStart();
      keepRunning('nats-server', nats.child, async () => (await nats.start()).child, onStart);
      shared.NATS_URL = nats.url;
      shared.NATS_MONITOR_URL = nats.monitorUrl;
      log(`nats-server (JetStream) ${nats.url}`);
    }
    if (!env.REDIS_URL) {
      const redis = await startRedis({
        port: await portOr(Number(env.BATCHGATE_REDIS_PORT ?? 6379)),
        logFile: join(logDir, 'redis-server.log'),
      });
      started.push(redis);
      const onStart = () => record('redis-server', redis.pid);
      onStart();
      keepRunning('redis-server', redis.child, async () => (await redis.start()).child, onStart);
      shared.REDIS_URL = redis.url;
      log(`redis-server ${redis.url}`);
    }

    /** `readyUrl` answers 200 once it started, `servingUrl` once it serves (a coordinator owns partitions). */
    const spawnService = async (name, script, extra, readyUrl, args = [], servingUrl = readyUrl) => {
      const file = join(logDir, `${name}.log`);
      const flags = script.includes('/policy/') ? POLICY_NODE_ARGS : [];
      // chrt execs node in place, so the child's pid (and its signals) stay the service's.
      const prefix = DECISION_PATH.some((part) => script.includes(part)) ? realtime : [];
      const command = [...prefix, process.execPath, ...flags, ...nodeArgs, join(root, script), ...args];
      const launch = (flags) => {
        const out = createWriteStream(file, { flags });
        const child = spawn(command[0], command.slice(1), {
          env: { ...shared, BATCHGATE_INSTANCE_ID: name, ...extra },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        child.stdout.pipe(out);
        child.stderr.pipe(out);
        return child;
      };
      const child = launch('w');
      const entry = { name, child };
      children.push(entry);
      const onStart = (current) => {
        entry.child = current;
        record(name, current.pid, servingUrl);
      };
      onStart(child);
      if (readyUrl && !(await waitReady(readyUrl, 30_000, child))) {
        throw new Error(`${name} did not become ready (log ${file}):\n${tail(file)}`);
      }
      // Supervised from its first readiness on: a service that never started is a start-up error.
      keepRunning(name, child, async () => launch('a'), onStart, servingUrl);
      return child;
    };

    if (!env.BATCHGATE_UPSTREAM) {
      const originPort = await portOr(Number(env.BATCHGATE_DEMO_ORIGIN_PORT ?? 9000));
      const delay = String(originDelayMs ?? env.BATCHGATE_DEMO_DELAY_MS ?? 20);
      shared.BATCHGATE_UPSTREAM = `http://127.0.0.1:${originPort}`;
      await spawnService('demo-origin', 'dist/scripts/demo-origin.js', {}, `${shared.BATCHGATE_UPSTREAM}/stats`, [
        String(originPort),
        delay,
      ]);
      log(`demo origin ${shared.BATCHGATE_UPSTREAM} (no BATCHGATE_UPSTREAM set; ${delay} ms per call)`);
    }

    if (!env.BATCHGATE_INFERENCE_UPSTREAM) {
      // Flow B's backend: the simulated OpenAI-compatible server (tools/inference-backend), Go mock service time.
      const backendPort = await portOr(Number(env.BATCHGATE_INFERENCE_BACKEND_PORT ?? 9300));
      shared.BATCHGATE_INFERENCE_UPSTREAM = `http://127.0.0.1:${backendPort}`;
      await spawnService(
        'inference-backend',
        'dist/tools/inference-backend/main.js',
        { BATCHGATE_INFERENCE_BACKEND_PORT: String(backendPort) },
        `${shared.BATCHGATE_INFERENCE_UPSTREAM}/healthz`,
      );
      log(`inference backend  ${shared.BATCHGATE_INFERENCE_UPSTREAM} (simulated; no BATCHGATE_INFERENCE_UPSTREAM set)`);
    }

    let nextHttpPort = await portOr(9101);
    const opsPort = async () => (nextHttpPort = await portOr(nextHttpPort + 1));
    const urls = { ingresses: [], operators: [], ingressHealth: [], metrics: undefined, services: {} };

    const metricsPort = await portOr(Number(env.BATCHGATE_METRICS_PORT ?? 9090));
    await spawnService(
      'telemetry',
      'dist/apps/telemetry/src/main.js',
      { BATCHGATE_METRICS_PORT: String(metricsPort) },
      `http://127.0.0.1:${metricsPort}/healthz`,
    );
    urls.metrics = `http://127.0.0.1:${metricsPort}/metrics`;

    const policyPort = await opsPort();
    await spawnService(
      'policy-0',
      'dist/apps/policy/src/main.js',
      { BATCHGATE_HTTP_PORT: String(policyPort) },
      `http://127.0.0.1:${policyPort}/readyz`,
    );
    urls.services['policy-0'] = `http://127.0.0.1:${policyPort}`;

    for (let i = 0; i < count('BATCHGATE_COORDINATOR_REPLICAS', 1); i++) {
      const port = await opsPort();
      await spawnService(
        `coordinator-${i}`,
        'dist/apps/coordinator/src/main.js',
        { BATCHGATE_HTTP_PORT: String(port) },
        `http://127.0.0.1:${port}/healthz`,
        [],
        `http://127.0.0.1:${port}/readyz`,
      );
      urls.services[`coordinator-${i}`] = `http://127.0.0.1:${port}`;
    }
    for (let i = 0; i < count('BATCHGATE_WORKER_REPLICAS', 1); i++) {
      const port = await opsPort();
      await spawnService(
        `worker-${i}`,
        'dist/apps/worker/src/main.js',
        { BATCHGATE_HTTP_PORT: String(port) },
        `http://127.0.0.1:${port}/readyz`,
      );
      urls.services[`worker-${i}`] = `http://127.0.0.1:${port}`;
    }
    for (const [i, port] of ingressPorts.entries()) {
      const ingress = await ingressEndpoints(port, opsPort);
      await spawnService(`ingress-${i}`, 'dist/apps/ingress/src/main.js', ingress.env, `${ingress.healthUrl}/readyz`);
      urls.ingresses.push(`http://127.0.0.1:${port}`);
      urls.ingressHealth.push(ingress.healthUrl);
      urls.operators.push(ingress.healthUrl);
    }
    // Coordinators are ready once they own partitions.
    for (const [name, url] of Object.entries(urls.services)) {
      if (name.startsWith('coordinator')) await waitReady(`${url}/readyz`, 15_000, children.find((c) => c.name === name).child);
    }
    for (const { name, child } of restart ? [] : children) {
      child.once('exit', (code, signal) => {
        // Ctrl-C reaches the whole process group: SIGINT and SIGTERM exits are a shutdown, not a crash.
        if (signal !== 'SIGTERM' && signal !== 'SIGINT' && code !== 0)
          log(`${name} exited (${signal ?? code}); its log: ${join(logDir, `${name}.log`)}\n${tail(join(logDir, `${name}.log`))}`);
      });
    }
    return { urls, env: shared, logDir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
