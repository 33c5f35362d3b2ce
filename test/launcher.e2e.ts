import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LaunchedStack } from '#launcher';
import { launchStack } from '#launcher';
import { describeExit, restartDecision } from '../scripts/supervisor.mjs';

// `npm start`'s launcher as a child process (real nats-server, redis-server, demo origin and the
// built services from dist/): what a user sees when one of its processes dies.

/** Resolves once `pid` no longer exists. */
async function gone(pid: number): Promise<void> {
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The first 200 from `url` within `ms`, or the last failure. */
async function answersWithin(url: string, ms: number): Promise<number> {
  const until = Date.now() + ms;
  let last = 'nothing';
  while (Date.now() < until) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 200) return response.status;
      last = `status ${response.status}`;
    } catch (error) {
      last = String((error as { cause?: unknown }).cause ?? error);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not answer 200 within ${ms} ms (last: ${last})`);
}

describe('restart decisions', () => {
  /** Feeds exits `gapsMs` apart (each after `upMs` of running) through restartDecision. */
  const run = (exits: Array<{ upMs: number; code?: number }>) => {
    let crashes: number[] = [];
    let streak = 0;
    let now = 0;
    return exits.map(({ upMs, code = 1 }) => {
      now += upMs;
      const decision = restartDecision({ crashes, streak, upMs, code, now });
      crashes = decision.crashes;
      streak = decision.streak;
      if (decision.action === 'restart') now += decision.delayMs;
      return decision.action === 'restart' ? decision.delayMs : decision.action;
    });
  };

  it('backs off 200 ms doubling, and five exits within 60 s are a crash loop', () => {
    expect(run(Array.from({ length: 5 }, () => ({ upMs: 1000 })))).toEqual([200, 400, 800, 1600, 'loop']);
  });

  it('the delay is capped at 10 s and starts over after 30 s of stable running', () => {
    const spread = Array.from({ length: 8 }, () => ({ upMs: 20_000 }));
    expect(run(spread)).toEqual([200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
    expect(run([{ upMs: 1000 }, { upMs: 1000 }, { upMs: 31_000 }])).toEqual([200, 400, 200]);
  });

  it('exit 78 (bad configuration) is never restarted', () => {
    expect(run([{ upMs: 1000, code: 78 }])).toEqual(['config']);
  });

  it('exits are described by signal, or by code (a shell reports a killed child as 128 + n)', () => {
    expect(describeExit(null, 'SIGKILL')).toBe('signal SIGKILL');
    expect(describeExit(1, null)).toBe('exit code 1');
    expect(describeExit(137, null)).toBe('exit code 137 (SIGKILL)');
  });
});

const routesFile = join(mkdtempSync(join(tmpdir(), 'batchgate-launcher-e2e-')), 'routes.yaml');

describe('npm start supervises what it started', () => {
  let stack: LaunchedStack;
  let squatter: Server | undefined;

  beforeAll(async () => {
    writeFileSync(routesFile, 'routes:\n  - name: api\n    match: /api/\n');
    stack = await launchStack({
      ingresses: 2,
      env: { BATCHGATE_HOST: '127.0.0.1', BATCHGATE_LOG_LEVEL: 'warn', BATCHGATE_ROUTES_FILE: routesFile },
    });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await new Promise((resolve) => (squatter ? squatter.close(resolve) : resolve(undefined)));
    rmSync(dirname(routesFile), { recursive: true, force: true });
  }, 60_000);

  it('a kill -9 ingress is restarted: its gateway port answers again and the launcher said so', async () => {
    const from = stack.lines.length;
    const { pid } = stack.state().processes['ingress-0']!;
    process.kill(pid, 'SIGKILL');
    await gone(pid);
    expect(await answersWithin(`${stack.gateways[0]}/api/hello`, 10_000)).toBe(200);
    const said = await stack.waitForLine(/ingress-0 exited/, 1000, from);
    expect(said).toMatch(/ingress-0 exited unexpectedly \(signal SIGKILL\); restarting in 200 ms; its log: .*ingress-0\.log/);
    await stack.waitForLine(/ingress-0 is back \(ready \d+ ms after the restart\)/, 10_000, from);
    expect(stack.state().processes['ingress-0']!.pid).not.toBe(pid);
  });

  it('a killed nats-server and redis-server are restarted on their ports, and the gateway answers', async () => {
    for (const name of ['nats-server', 'redis-server']) {
      const from = stack.lines.length;
      const { pid } = stack.state().processes[name]!;
      process.kill(pid, 'SIGKILL');
      await gone(pid);
      const said = await stack.waitForLine(new RegExp(`${name} exited`), 5000, from);
      expect(said).toMatch(new RegExp(`${name} exited unexpectedly \\(exit code 137 \\(SIGKILL\\)\\); restarting in 200 ms`));
      await stack.waitForLine(new RegExp(`${name} is back`), 20_000, from);
      expect(stack.state().processes[name]!.pid).not.toBe(pid);
    }
    expect(await answersWithin(`${stack.gateways[1]}/api/hello`, 20_000)).toBe(200);
  });

  it('a service that keeps crashing (its port taken by another process) stops being restarted, naming it and its log', async () => {
    const from = stack.lines.length;
    const { pid } = stack.state().processes['ingress-1']!;
    process.kill(pid, 'SIGKILL');
    await gone(pid);
    // Every restart now fails to listen (EADDRINUSE, exit code 1), as after a port clash in real life.
    squatter = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => squatter!.listen(stack.gatewayPort + 1, '127.0.0.1', resolve));
    const gaveUp = await stack.waitForLine(/ingress-1 keeps crashing/, 50_000, from);
    expect(gaveUp).toMatch(
      /ingress-1 keeps crashing \(5 exits within 60 s, last: exit code 1\): not restarting it again; see .*logs\/ingress-1\.log/,
    );
    const restarts = stack.lines.slice(from).filter((line) => /ingress-1 exited unexpectedly/.test(line));
    expect(restarts.map((line) => /restarting in (\d+) ms/.exec(line)?.[1])).toEqual(['200', '400', '800', '1600']);
    // The rest of the fleet keeps serving.
    expect(await answersWithin(`${stack.gateways[0]}/api/hello`, 5000)).toBe(200);
  }, 60_000);

  it('a service whose configuration became invalid (exit 78) is not restarted, and the launcher says why', async () => {
    const from = stack.lines.length;
    writeFileSync(routesFile, 'routes:\n  - name: broken\n    match: not-a-prefix\n');
    const { pid } = stack.state().processes['policy-0']!;
    process.kill(pid, 'SIGKILL');
    const said = await stack.waitForLine(/policy-0 exited with code 78/, 30_000, from);
    expect(said).toMatch(
      /policy-0 exited with code 78 \(bad configuration\): not restarting it, it would fail the same way; see .*policy-0\.log/,
    );
    expect(stack.lines.slice(from).filter((line) => /policy-0 exited unexpectedly/.test(line))).toHaveLength(1);
  }, 60_000);

  it('Ctrl-C still stops everything it started', async () => {
    const pids = Object.values(stack.state().processes).map((p) => p.pid);
    await stack.stop();
    const { code } = await stack.exited;
    expect(code).toBe(0);
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  }, 60_000);
});
