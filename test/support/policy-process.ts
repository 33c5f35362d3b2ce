import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { freePort } from '#infra';
import { POLICY_NODE_ARGS } from '#stack';
import type { Env } from './fleet.js';

const SCRIPT = 'dist/apps/policy/src/main.js';

/**
 * The built policy service (dist/) as a real child process, started the way
 * scripts/stack.mjs starts it, so a test can freeze or SIGKILL it with
 * decisions in flight (an in-process app can only be closed gracefully).
 */
export class PolicyProcess {
  private output = '';
  private readonly exit: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly instanceId: string,
    readonly url: string,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => void (this.output = (this.output + chunk.toString()).slice(-4000)));
    child.stderr?.on('data', (chunk: Buffer) => void (this.output = (this.output + chunk.toString()).slice(-4000)));
    this.exit = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Spawns `node dist/apps/policy/src/main.js` with `env` (a fleet's env) and waits until /readyz answers 200. */
  static async start(env: Env, instanceId: string, timeoutMs = 30_000): Promise<PolicyProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, [...POLICY_NODE_ARGS, SCRIPT], {
      env: { PATH: process.env.PATH ?? '', ...env, BATCHGATE_INSTANCE_ID: instanceId, BATCHGATE_HTTP_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const policy = new PolicyProcess(child, instanceId, `http://127.0.0.1:${port}`);
    // A test worker that exits without its afterAll leaves no policy process behind.
    const guard = () => void child.kill('SIGKILL');
    process.once('exit', guard);
    void policy.exit.then(() => process.off('exit', guard));
    try {
      await policy.waitReady(timeoutMs);
    } catch (error) {
      await policy.stop();
      throw error;
    }
    return policy;
  }

  /** The event source its slot.decided events carry. */
  get source(): string {
    return `policy/${this.instanceId}`;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `signal` (SIGSTOP freezes it, SIGKILL ends it with no shutdown); resolves once a SIGKILL has taken effect. */
  async signal(signal: 'SIGSTOP' | 'SIGCONT' | 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    if (signal === 'SIGKILL') await this.exit;
  }

  /** Ends the process whatever its state (always safe to call, e.g. in afterAll). */
  async stop(): Promise<void> {
    await this.signal('SIGKILL');
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (!this.running) throw new Error(`${SCRIPT} exited before it was ready:\n${this.output}`);
      try {
        if ((await fetch(`${this.url}/readyz`)).status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${SCRIPT} was not ready within ${timeoutMs} ms:\n${this.output}`);
  }
}
