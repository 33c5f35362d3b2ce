// Starts and stops the real infrastructure processes (nats-server with
// JetStream, redis-server) on loopback ports. Plain ESM so `npm start` can use
// it before anything is built; tests and benchmarks import the same code.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SEARCH_PATH = ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin'];

/** Absolute path of a binary on PATH or in the usual sbin/bin folders, or undefined. */
export function findBinary(name) {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SEARCH_PATH];
  return dirs.map((dir) => join(dir, name)).find((path) => existsSync(path));
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function waitForLine(child, pattern, name, timeoutMs) {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => finish(new Error(`${name} did not become ready in ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk) => {
      output += chunk.toString();
      if (pattern.test(output)) finish();
    };
    const onExit = (code) => finish(new Error(`${name} exited with code ${code}:\n${output}`));
    function finish(error) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      error ? reject(error) : resolve();
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', onExit);
  });
}

const WATCHDOG = [
  '"$@" & server=$!',
  // The server's own pid, for whoever wants to signal it (the fault suite kills it with -9).
  'echo "batchgate-infra-pid $server"',
  "trap 'kill $server 2>/dev/null' TERM INT",
  'while kill -0 $server 2>/dev/null; do',
  '  kill -0 $BATCHGATE_WATCH_PID 2>/dev/null || kill $server',
  '  sleep 1 & wait $!',
  'done',
  'wait $server',
].join('\n');

/**
 * A supervised infrastructure process that can be stopped and started again on
 * the same port (tests use that to take NATS or Redis away and bring it back).
 */
class InfraProcess {
  constructor(name, binary, args, readyPattern, cleanup, env = {}, logFile = undefined) {
    this.logFile = logFile;
    this.name = name;
    this.binary = binary;
    this.args = args;
    this.env = env;
    this.readyPattern = readyPattern;
    this.cleanup = cleanup;
    this.child = undefined;
  }

  async start() {
    // A small sh watchdog runs the server and stops it once this Node process is
    // gone, so a test worker that dies abruptly (OOM, SIGKILL) leaks no servers.
    const child = spawn('sh', ['-c', WATCHDOG, 'infra', this.binary, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.env, BATCHGATE_WATCH_PID: String(process.pid) },
    });
    this.child = child;
    // The last 256 KB of the server's log, for tests that read it (e.g. permission violations).
    this.log = '';
    const keep = (chunk) => (this.log = (this.log + chunk.toString()).slice(-256 * 1024));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    if (this.logFile) {
      // Appended across restarts, so the output of the run that crashed is kept.
      const out = createWriteStream(this.logFile, { flags: 'a' });
      child.stdout.pipe(out, { end: false });
      child.stderr.pipe(out, { end: false });
      child.once('close', () => out.end());
    }
    const onPid = (chunk) => {
      const match = /batchgate-infra-pid (\d+)/.exec(chunk.toString());
      if (match) this.pid = Number(match[1]);
      if (match) child.stdout.off('data', onPid);
    };
    child.stdout.on('data', onPid);
    await waitForLine(child, this.readyPattern, this.name, 15_000);
    // Keep draining output so the pipe never fills and blocks the server.
    child.stdout.resume();
    child.stderr.resume();
    return this;
  }

  get running() {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Stops the process (SIGTERM, then SIGKILL after 3 s). */
  async stop(signal = 'SIGTERM') {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }

  async restart() {
    await this.stop();
    return this.start();
  }

  async dispose() {
    await this.stop();
    this.cleanup?.();
  }
}

/**
 * Go runtime settings for nats-server. With Go's default GOGC=100 its
 * collector runs every few MB of traffic, and the pauses are the tail of every
 * request/reply: a bare 8.5 KB echo (a 100-slot policy.decide) through
 * nats-server 2.9 had a p99 of 0.9-1.8 ms here at GOGC=100 and 0.32-0.36 ms at
 * GOGC=800, 0.27-0.48 ms vs 0.27-0.32 ms at 128 B. GOMEMLIMIT keeps the bigger
 * heap bounded (Go >= 1.19 collects early when it nears the limit). The
 * caller's environment wins.
 */
export const NATS_SERVER_ENV = {
  GOGC: process.env.GOGC ?? '800',
  GOMEMLIMIT: process.env.GOMEMLIMIT ?? '1GiB',
};

/**
 * The command prefix that runs a process under SCHED_RR at `value`
 * (BATCHGATE_REALTIME_PRIORITY), or [] when unset. On two shared cores a
 * process woken by a message waited 2-4 ms at p99 for a CPU (9 ms at worst)
 * behind the load generator and the other services; a decision round trip
 * wakes nats-server twice and the policy once, so those waits are what ran
 * past the 5 ms decision deadline. A real-time priority for them puts the
 * decision on a CPU at once, as dedicated cores would. (The coordinator's own
 * lateness needs none: a reply that arrived in time wins over its timer.) The
 * cost on saturated cores is everyone else's CPU: docs/benchmarks.md. Needs
 * root or CAP_SYS_NICE; the kernel still keeps 5 % of each CPU for the rest.
 */
export function realtimePrefix(value) {
  if (value === undefined || value === '') return [];
  const priority = Number(value);
  if (!Number.isInteger(priority) || priority < 1 || priority > 99)
    throw new Error(`BATCHGATE_REALTIME_PRIORITY must be a SCHED_RR priority from 1 to 99, got "${value}"`);
  const chrt = findBinary('chrt');
  if (!chrt) throw new Error('BATCHGATE_REALTIME_PRIORITY is set, but chrt (util-linux) is not installed');
  const probe = spawnSync(chrt, ['-r', String(priority), 'true'], { encoding: 'utf8' });
  if (probe.status !== 0)
    throw new Error(
      `BATCHGATE_REALTIME_PRIORITY=${priority}: the system refused real-time scheduling (${(probe.stderr || probe.error?.message || '').trim()}); it needs root or CAP_SYS_NICE`,
    );
  return [chrt, '-r', String(priority)];
}

/**
 * nats-server with JetStream on a free (or given) loopback port; `prefix` wraps
 * the command (realtimePrefix), `args` are extra server flags (e.g. --user/--pass).
 */
export async function startNats({ port, storeDir, monitorPort, prefix = [], args: extra = [], logFile } = {}) {
  const binary = findBinary('nats-server');
  if (!binary) throw new Error('nats-server is not installed (Debian: apt-get install -y nats-server)');
  const natsPort = port ?? (await freePort());
  const ownDir = storeDir ? undefined : mkdtempSync(join(tmpdir(), 'batchgate-nats-'));
  const dir = storeDir ?? ownDir;
  const args = [
    '-js',
    '-a',
    '127.0.0.1',
    '-p',
    String(natsPort),
    '-sd',
    dir,
    ...(monitorPort ? ['-m', String(monitorPort)] : []),
    ...extra,
  ];
  const proc = new InfraProcess(
    'nats-server',
    prefix[0] ?? binary,
    [...prefix.slice(1), ...(prefix.length > 0 ? [binary] : []), ...args],
    /Server is ready/,
    () => ownDir && rmSync(ownDir, { recursive: true, force: true }),
    NATS_SERVER_ENV,
    logFile,
  );
  await proc.start();
  proc.port = natsPort;
  proc.url = `nats://127.0.0.1:${natsPort}`;
  if (monitorPort) proc.monitorUrl = `http://127.0.0.1:${monitorPort}`;
  return proc;
}

/** redis-server without persistence on a free (or given) loopback port. */
export async function startRedis({ port, logFile } = {}) {
  const binary = findBinary('redis-server');
  if (!binary) throw new Error('redis-server is not installed (Debian: apt-get install -y redis-server)');
  const redisPort = port ?? (await freePort());
  const args = ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'];
  const proc = new InfraProcess('redis-server', binary, args, /Ready to accept connections/, undefined, {}, logFile);
  await proc.start();
  proc.port = redisPort;
  proc.url = `redis://127.0.0.1:${redisPort}`;
  return proc;
}

/**
 * Installs nats-server and redis-server from Debian's packages when they are
 * missing and this process may (root with apt-get). Returns the names still missing.
 */
export function ensureInfraBinaries({ log = console.log } = {}) {
  const missing = ['nats-server', 'redis-server'].filter((name) => !findBinary(name));
  if (missing.length === 0) return [];
  const canInstall = process.getuid?.() === 0 && findBinary('apt-get');
  if (!canInstall) return missing;
  log(`installing ${missing.join(' and ')} from Debian's packages ...`);
  spawnSync('apt-get', ['update'], { stdio: 'inherit' });
  spawnSync('apt-get', ['install', '-y', ...missing], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return missing.filter((name) => !findBinary(name));
}
