import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { freePort } from '#infra';
import { POLICY_NODE_ARGS } from '#stack';
import type { Env } from './fleet.js';

/**
 * A built service (dist/apps/<service>/src/main.js, `npm run build` first) as
 * a real child process, so a test can SIGKILL it with work in flight (an
 * in-process app can only be closed gracefully). Node flags as
 * scripts/stack.mjs gives them (the policy's young generation).
 */
export class ServiceProcess {
  private output = '';
  private readonly exit: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly script: string,
    readonly instanceId: string,
    readonly url: string,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => void (this.output = (this.output + chunk.toString()).slice(-4000)));
    child.stderr?.on('data', (chunk: Buffer) => void (this.output = (this.output + chunk.toString()).slice(-4000)));
    this.exit = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Spawns the service with `env` (a fleet's env) and waits until its /readyz answers 200. */
  static async start(service: string, env: Env, instanceId: string, timeoutMs = 30_000): Promise<ServiceProcess> {
    const script = `dist/apps/${service}/src/main.js`;
    const port = await freePort();
    const flags = service === 'policy' ? POLICY_NODE_ARGS : [];
    // The telemetry service listens on its metrics port (its operator port) rather than BATCHGATE_HTTP_PORT.
    const ports = service === 'telemetry' ? { BATCHGATE_METRICS_PORT: String(port), BATCHGATE_METRICS_HOST: '127.0.0.1' } : {};
    const child = spawn(process.execPath, [...flags, script], {
      env: { PATH: process.env.PATH ?? '', ...env, BATCHGATE_INSTANCE_ID: instanceId, BATCHGATE_HTTP_PORT: String(port), ...ports },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = new ServiceProcess(child, script, instanceId, `http://127.0.0.1:${port}`);
    // A test worker that exits without its afterAll leaves no process behind.
    const guard = () => void child.kill('SIGKILL');
    process.once('exit', guard);
    void proc.exit.then(() => process.off('exit', guard));
    try {
      await proc.waitReady(timeoutMs);
    } catch (error) {
      await proc.kill();
      throw error;
    }
    return proc;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The event source its events carry (e.g. a policy's slot.decided). */
  get source(): string {
    return `${this.script.split('/')[2]}/${this.instanceId}`;
  }

  /** Sends `signal` (SIGSTOP freezes it, SIGKILL ends it with no shutdown); resolves once a SIGKILL has taken effect. */
  async signal(signal: 'SIGSTOP' | 'SIGCONT' | 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    if (signal === 'SIGKILL') await this.exit;
  }

  /** SIGKILL: no shutdown hooks, no drain; resolves once the process is gone. Always safe to call. */
  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }

  /** Ends the process whatever its state (always safe to call, e.g. in afterAll). */
  stop(): Promise<void> {
    return this.kill();
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (!this.running) throw new Error(`${this.script} exited before it was ready:\n${this.output}`);
      try {
        if ((await fetch(`${this.url}/readyz`)).status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${this.script} was not ready within ${timeoutMs} ms:\n${this.output}`);
  }
}
