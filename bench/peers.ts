// The processes a benchmark compares batchgate with, each started on a free
// loopback port and stopped by the bench: a counting demo origin, NGINX as a
// plain reverse proxy (Debian's nginx-light, installed when missing and root),
// and the seed's Rust proxy (Raifu-Sutairu/req-batching's reverse-proxy, built
// with cargo from a checkout named by BATCHGATE_SEED_PROXY_SRC; skipped, with
// a line saying so, when none is given). No peer's code lives in this repo.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, freePort } from '#infra';

const root = new URL('../..', import.meta.url).pathname;

export interface Peer {
  name: string;
  url: string;
  stop(): Promise<void>;
}

async function waitHttp(url: string, child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

function stopper(child: ChildProcess, cleanup: () => void = () => undefined): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      const done = () => {
        cleanup();
        resolve();
      };
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', done);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    });
}

/** The demo origin (dist/scripts/demo-origin.js): `delayMs` per call, counts calls at /stats. */
export async function startOrigin(delayMs: number): Promise<Peer & { calls(): Promise<number> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'dist/scripts/demo-origin.js'), String(port), String(delayMs)], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/stats`, child);
  return {
    name: 'origin direct',
    url,
    stop: stopper(child),
    calls: async () => ((await (await fetch(`${url}/stats`)).json()) as { calls: number }).calls,
  };
}

/** Installs a Debian package when a binary is missing and we are root; false when it stays missing. */
export function ensureDebian(binary: string, pkg: string, log: (line: string) => void): string | undefined {
  const found = findBinary(binary);
  if (found) return found;
  if (process.getuid?.() !== 0) {
    log(`${binary} not found: apt-get install ${pkg} (as root) to include it`);
    return undefined;
  }
  log(`installing ${pkg} from Debian's packages ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'ignore', env });
  // A fresh machine has no package lists yet: fetch them once and try again.
  if (!findBinary(binary)) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
    spawnSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'ignore', env });
  }
  const installed = findBinary(binary);
  if (!installed) log(`${binary} still missing after apt-get install ${pkg}: install it by hand to include it`);
  return installed;
}

/** NGINX as a plain keep-alive reverse proxy to `upstream` (no cache): the pass-through peer. */
export async function startNginx(upstream: string, log: (line: string) => void): Promise<Peer | undefined> {
  const nginx = ensureDebian('nginx', 'nginx-light', log);
  if (!nginx) return undefined;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bg-nginx-'));
  const upstreamHost = new URL(upstream).host;
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream origin { server ${upstreamHost}; keepalive 256; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    keepalive_requests 100000;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  );
  const child = spawn(nginx, ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/stats`, child);
  return { name: 'nginx pass-through', url, stop: stopper(child, () => rmSync(dir, { recursive: true, force: true })) };
}

/** A lean Node proxy (bench/lean-proxy.ts: node:http + one undici Pool, nothing else): what pass-through should cost. */
export async function startLeanNodeProxy(upstream: string): Promise<Peer> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'dist/bench/lean-proxy.js'), String(port), upstream], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/stats`, child);
  return { name: 'lean Node proxy', url, stop: stopper(child) };
}

/**
 * The seed's Rust proxy with its own defaults for batching (timer 50 ms, cap
 * 128) and its RL agent, Kafka and Redis cache off (the cache would answer
 * from Redis for 5 s, which is not coalescing). Its metrics port is fixed at
 * 9090 by its code, so nothing else may hold 9090 while it runs.
 */
export async function startSeedProxy(upstream: string, log: (line: string) => void, env = process.env): Promise<Peer | undefined> {
  const src = env.BATCHGATE_SEED_PROXY_SRC;
  if (!src) {
    log('seed Rust proxy skipped: set BATCHGATE_SEED_PROXY_SRC to a checkout of its reverse-proxy/ folder (built with cargo)');
    return undefined;
  }
  const binary = join(src, 'target/release/reverse-proxy');
  if (!existsSync(binary)) {
    log(`building the seed proxy in ${src} (cargo build --release; needs protobuf-compiler libcurl4-openssl-dev libsasl2-dev cmake) ...`);
    const built = spawnSync('cargo', ['build', '--release'], { cwd: src, stdio: 'ignore' });
    if (built.status !== 0 || !existsSync(binary)) {
      log('seed Rust proxy skipped: cargo build failed');
      return undefined;
    }
  }
  const port = await freePort();
  const child = spawn(binary, [], {
    cwd: src,
    stdio: 'ignore',
    env: {
      PATH: env.PATH ?? '',
      // Quiets its dependencies; its own crate logs every accepted connection at info by its code (to /dev/null here).
      RUST_LOG: 'warn',
      PROXY_LISTEN_ADDR: `127.0.0.1:${port}`,
      PROXY_UPSTREAM_URL: upstream,
      PROXY_MAX_CONNECTIONS: '1000',
      PROXY_BATCH_TIMEOUT_MS: '50',
      PROXY_MAX_BATCH_SIZE: '128',
      PROXY_RL_AGENT_ENABLED: 'false',
      PROXY_KAFKA_ENABLED: 'false',
      PROXY_REDIS_ENABLED: 'false',
    },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/warm`, child);
  return { name: 'seed Rust proxy (timer 50 / cap 128)', url, stop: stopper(child) };
}
