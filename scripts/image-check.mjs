// What `docker build -f deploy/docker/<image>.Dockerfile` does, on a machine without Docker, and
// then what the container does: in a temp dir, install from the lockfile (npm ci), build (tsc),
// prune to the image's tree (deploy/docker/prune.mjs: the same step the Dockerfile runs), start
// the image's command from that tree with real nats-server and redis-server (#infra) and the
// demo origin's own pruned tree as the upstream, wait for its readiness URL, run the image's
// HEALTHCHECK script against it, stop it with SIGTERM.
//   node scripts/image-check.mjs [--json] [image ...]      (default: every image in images.json)
// Differences from a container, on purpose: ports are free ones (as `docker run -p` would map
// them), Node is the project's Node 24 (the same version the Dockerfiles pin), and the service
// runs as this user (root in CI), so read-only-ness is shown by Kubernetes' readOnlyRootFilesystem, not here.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startNats, startRedis } from './infra.mjs';
import { IMAGES, imageSpec, pruneImage } from '../deploy/docker/prune.mjs';

const root = new URL('..', import.meta.url).pathname;
// The build context the Dockerfiles copy (deploy/docker/*.Dockerfile: COPY lines).
const SOURCES = [
  'package.json',
  'package-lock.json',
  '.npmrc',
  'tsconfig.json',
  'tsconfig.build.json',
  'apps',
  'libs',
  'scripts',
  'tools',
  'bench',
  'fixtures/models',
  'deploy/docker',
];

function run(command, args, cwd, log) {
  log(`$ ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
}

function sizeOf(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, name) => sum + sizeOf(join(path, name)), 0);
}

/** The image's source files exist in this checkout (the inference backend may not, on an older branch). */
export function buildable(name) {
  const entry = imageSpec(name)
    .entry.replace(/^dist\//, '')
    .replace(/\.js$/, '.ts');
  return existsSync(join(root, entry));
}

async function waitStatus(url, child, timeoutMs) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) return `exited with ${child.exitCode}`;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.status === 200) return 200;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return `no 200 within ${timeoutMs} ms`;
}

/** Starts one pruned image's command, its ports mapped to free ones. */
async function startImage(name, dir, baseEnv) {
  const spec = imageSpec(name);
  const port = await freePort();
  const env = { PATH: process.env.PATH, ...spec.env, ...baseEnv, BATCHGATE_HTTP_HOST: '127.0.0.1', BATCHGATE_LOG_LEVEL: 'warn' };
  const portSetting = { 9100: 'BATCHGATE_HTTP_PORT', 9090: 'BATCHGATE_METRICS_PORT', 9300: 'BATCHGATE_INFERENCE_BACKEND_PORT' }[
    spec.probe.port
  ];
  const args = [...(spec.args ?? [])];
  if (name === 'demo-origin') args[0] = String(port);
  else env[portSetting] = String(port);
  if (name === 'ingress') env.BATCHGATE_PORT = String(await freePort());
  env.BATCHGATE_DEMO_HOST = '127.0.0.1';
  let output = '';
  const nodeOptions = env.NODE_OPTIONS ? env.NODE_OPTIONS.split(' ') : [];
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [...nodeOptions, spec.entry, ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (chunk) => (output = (output + chunk).slice(-8000)));
  child.stderr.on('data', (chunk) => (output = (output + chunk).slice(-8000)));
  return { child, port, url: `http://127.0.0.1:${port}`, output: () => output };
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const result = await exited;
  clearTimeout(timer);
  return result;
}

export async function checkImages(names, log = (line) => console.error(line)) {
  const work = mkdtempSync(join(tmpdir(), 'bg-images-'));
  const results = [];
  const started = [];
  try {
    const src = join(work, 'src');
    for (const path of SOURCES) cpSync(join(root, path), join(src, path), { recursive: true, filter: (f) => !f.includes('node_modules') });
    // --prefer-offline: what CI's own `npm ci` fetched is in npm's cache; new versions still come from the registry.
    run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], src, log);
    run(join(src, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], src, log);
    const [nats, redis] = await Promise.all([startNats(), startRedis()]);
    started.push(nats, redis);
    const ordered = ['demo-origin', ...names.filter((n) => n !== 'demo-origin')];
    let upstream;
    for (const name of ordered) {
      const dir = join(work, 'images', name);
      const closure = pruneImage(name, src, dir);
      const image = await startImage(name, dir, {
        NATS_URL: nats.url,
        REDIS_URL: redis.url,
        BATCHGATE_UPSTREAM: upstream ?? 'http://127.0.0.1:9',
      });
      const spec = imageSpec(name);
      const ready = await waitStatus(`${image.url}${spec.probe.ready}`, image.child, 60_000);
      const health = spawnSync('bash', [join(dir, '../../src/deploy/docker/healthcheck.sh'), String(image.port), spec.probe.ready], {
        timeout: 5000,
      });
      const result = {
        image: name,
        ready,
        healthcheck: health.status,
        packages: closure.map((p) => p.replace(/^.*node_modules\//, '')),
        megabytes: Math.round(sizeOf(dir) / 1e5) / 10,
      };
      if (name === 'demo-origin') {
        // Kept running: it is every other image's upstream.
        upstream = image.url;
        started.push({ dispose: () => stop(image.child) });
        result.exit = 'kept as the upstream';
      } else result.exit = await stop(image.child);
      if (ready !== 200) result.log = image.output();
      log(`${name}: ready ${ready}, healthcheck exit ${health.status}, ${closure.length} packages, ${result.megabytes} MB`);
      results.push(result);
    }
  } finally {
    for (const proc of started.reverse()) await proc.dispose();
    rmSync(work, { recursive: true, force: true });
  }
  return results;
}

if (import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const asked = args.filter((a) => a !== '--json');
  const names =
    asked.length > 0
      ? asked
      : IMAGES.filter((name) => buildable(name) || (console.error(`${name}: skipped, its source is not in this checkout`), false));
  const results = await checkImages(names);
  if (json) console.log(JSON.stringify(results));
  const failed = results.filter((r) => r.ready !== 200 || r.healthcheck !== 0);
  for (const r of failed) console.error(`${r.image} FAILED: ready ${r.ready}, healthcheck ${r.healthcheck}\n${r.log ?? ''}`);
  process.exit(failed.length > 0 ? 1 : 0);
}
