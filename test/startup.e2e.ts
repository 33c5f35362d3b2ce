import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { realtimePrefix } from '#infra';
import { startStack } from '#stack';

// Runs the built services as real processes (npm test builds before the suites run).
const run = (service: string, env: Record<string, string>) =>
  spawnSync(process.execPath, [`dist/apps/${service}/src/main.js`], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });

describe('start-up with bad settings', () => {
  it('the build exists', () => {
    expect(existsSync('dist/apps/ingress/src/main.js')).toBe(true);
  });

  it('a service with bad settings exits 78 naming every bad setting, without a stack trace', () => {
    const result = run('ingress', { BATCHGATE_UPSTREAM: 'ftp://origin', BATCHGATE_MAX_BATCH_SIZE: 'lots', BATCHGATE_PORT: '99999' });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain('batchgate ingress: invalid configuration');
    expect(result.stderr).toContain('BATCHGATE_UPSTREAM must be a http or https URL (got "ftp://origin")');
    expect(result.stderr).toContain('BATCHGATE_MAX_BATCH_SIZE must be an integer between 1 and 100000 (got "lots")');
    expect(result.stderr).toContain('BATCHGATE_PORT must be an integer between 0 and 65535 (got "99999")');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('an unknown strategy or parameter is refused at start, naming the setting', () => {
    const policy = run('policy', { BATCHGATE_POLICY_STRATEGY: 'fixed_timer:window=3' });
    expect(policy.status).toBe(78);
    expect(policy.stderr).toContain('BATCHGATE_POLICY_STRATEGY: fixed_timer has no parameter(s) window');
    const coordinator = run('coordinator', { BATCHGATE_FALLBACK_STRATEGY: 'warp_speed' });
    expect(coordinator.status).toBe(78);
    expect(coordinator.stderr).toContain('BATCHGATE_FALLBACK_STRATEGY: unknown strategy "warp_speed"');
  });

  it('a routes file with a mistake is refused at start with the file and the route', () => {
    const result = run('policy', { BATCHGATE_ROUTES_FILE: 'test/fixtures/bad-routes.yaml' });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain('BATCHGATE_ROUTES_FILE test/fixtures/bad-routes.yaml: routes[1] "broken": match must be a path prefix');
  });

  it('a routes file with a catastrophically backtracking pattern is refused at start, naming the route', () => {
    const result = run('ingress', { BATCHGATE_UPSTREAM: 'http://127.0.0.1:9', BATCHGATE_ROUTES_FILE: 'test/fixtures/evil-routes.yaml' });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain(
      'BATCHGATE_ROUTES_FILE test/fixtures/evil-routes.yaml: routes[1] "evil": match is a regular expression that can backtrack catastrophically',
    );
  });

  it('the launcher refuses a real-time priority it cannot use, naming the setting', () => {
    expect(realtimePrefix(undefined)).toEqual([]);
    expect(() => realtimePrefix('high')).toThrow('BATCHGATE_REALTIME_PRIORITY must be a SCHED_RR priority from 1 to 99, got "high"');
    expect(() => realtimePrefix('100')).toThrow('BATCHGATE_REALTIME_PRIORITY');
    // Where the system allows it (root or CAP_SYS_NICE) the prefix runs a command under SCHED_RR.
    const allowed = spawnSync('chrt', ['-r', '1', 'true']).status === 0;
    if (allowed) {
      const [chrt, ...args] = realtimePrefix('1');
      const shown = spawnSync(chrt!, [...args, 'sh', '-c', 'chrt -p $$'], { encoding: 'utf8' });
      expect(shown.stdout).toContain('SCHED_RR');
    } else {
      expect(() => realtimePrefix('1')).toThrow('it needs root or CAP_SYS_NICE');
    }
  });

  it('the launcher refuses a gateway port another process holds, before it starts anything', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as { port: number }).port;
    const log: string[] = [];
    try {
      await expect(
        startStack({ env: { ...process.env, BATCHGATE_PORT: String(port) }, log: (line: string) => log.push(line) }),
      ).rejects.toThrow(`port ${port} (BATCHGATE_PORT) is in use by another process`);
      // Nothing was started: no nats-server, redis-server or origin was announced.
      expect(log).toEqual([]);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('a learned strategy as the embedded fallback, or with bad parameters, is refused at start naming the setting', () => {
    for (const learned of ['ppo', 'qlearning']) {
      const coordinator = run('coordinator', { BATCHGATE_FALLBACK_STRATEGY: learned });
      expect(coordinator.status).toBe(78);
      expect(coordinator.stderr).toContain(`BATCHGATE_FALLBACK_STRATEGY: ${learned} is a learned strategy and needs a model`);
      expect(coordinator.stderr).not.toMatch(/\n\s+at /);
    }
    const ingress = run('ingress', { BATCHGATE_UPSTREAM: 'http://127.0.0.1:9', BATCHGATE_FALLBACK_STRATEGY: 'ppo' });
    expect(ingress.status).toBe(78);
    expect(ingress.stderr).toContain('BATCHGATE_FALLBACK_STRATEGY: ppo is a learned strategy and needs a model');
    const policy = run('policy', { BATCHGATE_POLICY_STRATEGY: 'ppo:rate_norm=0' });
    expect(policy.status).toBe(78);
    expect(policy.stderr).toContain('BATCHGATE_POLICY_STRATEGY: ppo.rate_norm must be between 0.000001 and Infinity (got 0)');
  });
});
