import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { freePort } from '#infra';
import type { Env } from './fleet.js';

/**
 * A built service (dist/apps/<service>/src/main.js, `npm run build` first) as
 * a real child process, so a test can SIGKILL it with work in flight (an
 * in-process app can only be closed gracefully). Same approach as
 * policy-process.ts, for any service.
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
    const child = spawn(process.execPath, [script], {
      env: { PATH: process.env.PATH ?? '', ...env, BATCHGATE_INSTANCE_ID: instanceId, BATCHGATE_HTTP_PORT: String(port) },
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

  /** SIGKILL: no shutdown hooks, no drain; resolves once the process is gone. Always safe to call. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exit;
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
