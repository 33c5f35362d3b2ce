import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '#infra';
import { loadWorkerConfig } from '../apps/worker/src/config.js';
import { createWorkerApp } from '../apps/worker/src/worker.module.js';
import { burst, get, warm } from './support/client.js';
import { PATIENT_POLICY, TestFleet } from './support/fleet.js';

// Independent deploys: the previous release's worker (deploy/releases.json: a commit on main, built
// from `git archive` in a temp dir with the shared node_modules, so no tag or fetch is needed) serves
// this tree's coordinator and ingress on the same subjects, alone and beside a new worker.
const root = new URL('..', import.meta.url).pathname;
const releases = JSON.parse(readFileSync(join(root, 'deploy/releases.json'), 'utf8')) as {
  previous: string;
  releases: Record<string, string>;
};
const commit = releases.releases[releases.previous]!;

async function waitReady(url: string, child: ChildProcess, output: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`previous worker exited:\n${output()}`);
    const ok = await fetch(url).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`previous worker not ready:\n${output()}`);
}

describe(`the previous release (${releases.previous}) beside this one`, () => {
  let dir: string;
  let fleet: TestFleet;
  let old: ChildProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bg-previous-'));
    const archive = execFileSync(
      'git',
      [
        'archive',
        '--format=tar',
        commit,
        'package.json',
        'tsconfig.json',
        'tsconfig.build.json',
        'apps',
        'libs',
        'tools',
        'bench',
        'scripts',
      ],
      {
        cwd: root,
        maxBuffer: 256 * 1024 * 1024,
      },
    );
    execFileSync('tar', ['-x', '-C', dir], { input: archive });
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'pipe' });

    fleet = await TestFleet.start({
      ingresses: 1,
      workers: 0,
      env: { ...PATIENT_POLICY, BATCHGATE_BATCH_TIMEOUT_MS: '200' },
      originDelayMs: 20,
    });
    const port = await freePort();
    let output = '';
    old = spawn(process.execPath, ['dist/apps/worker/src/main.js'], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '',
        ...fleet.envOf('worker'),
        BATCHGATE_INSTANCE_ID: 'worker-previous',
        BATCHGATE_HTTP_PORT: String(port),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    old.stdout!.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    old.stderr!.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    await waitReady(`http://127.0.0.1:${port}/readyz`, old, () => output);
    await warm(fleet.ingressUrl(), 50);
  }, 240_000);

  afterAll(async () => {
    old?.kill('SIGKILL');
    await fleet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the previous worker alone takes this coordinator's flush and answers this ingress: one origin call for a burst", async () => {
    const replies = await burst(`${fleet.ingressUrl()}/compat/shared`, 50);
    expect(replies.map((r) => r.status)).toEqual(replies.map(() => 200));
    expect(replies.every((r) => r.headers['x-batchgate'] === 'coalesced')).toBe(true);
    expect(fleet.origin.callsTo('/compat/shared')).toHaveLength(1);
  });

  it('with a new worker in the same queue group, every key is still answered once', async () => {
    fleet.workers.push(await createWorkerApp(loadWorkerConfig({ ...fleet.envOf('worker'), BATCHGATE_INSTANCE_ID: 'worker-new' })));
    for (let i = 0; i < 20; i++) {
      const replies = await burst(`${fleet.ingressUrl()}/compat/mixed-${i}`, 5);
      expect(replies.every((r) => r.status === 200)).toBe(true);
      expect(fleet.origin.callsTo(`/compat/mixed-${i}`)).toHaveLength(1);
    }
    expect((await get(`${fleet.ingressUrl()}/compat/after`)).status).toBe(200);
  });

  it("an ingress of the previous release gets a new worker's streamed large answer whole (it calls the origin itself)", async () => {
    const [gatewayPort, operatorPort] = [await freePort(), await freePort()];
    let output = '';
    const oldIngress = spawn(process.execPath, ['dist/apps/ingress/src/main.js'], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '',
        ...fleet.envOf('ingress'),
        BATCHGATE_INSTANCE_ID: 'ingress-previous',
        BATCHGATE_PORT: String(gatewayPort),
        BATCHGATE_HTTP_PORT: String(operatorPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    oldIngress.stdout.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    oldIngress.stderr.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    // Only the new worker is left to take the flush: it streams answers above its threshold.
    old?.kill('SIGKILL');
    old = undefined;
    const big = Buffer.alloc(2 * 1024 * 1024, 'z');
    fleet.origin.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(big.length) });
      res.end(big);
    });
    try {
      await waitReady(`http://127.0.0.1:${operatorPort}/readyz`, oldIngress, () => output);
      const reply = await get(`http://127.0.0.1:${gatewayPort}/compat/big`);
      expect(reply.status).toBe(200);
      expect(reply.body.length).toBe(big.length);
    } finally {
      fleet.origin.handle(undefined);
      oldIngress.kill('SIGKILL');
    }
  });
});
