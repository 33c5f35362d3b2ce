import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { freePort } from '#infra';
import type { BackendStats as Counted } from '../../tools/inference-backend/server.js';

/** GET /stats: the counters, plus calls being served and waiting for a slot right now. */
export type BackendStats = Counted & { in_flight: number; queued: number };

/**
 * The simulated inference backend (dist/tools/inference-backend/main.js, `npm
 * run build` first) as its own process on a free port, as `npm start` runs it.
 */
export class SimBackend {
  private output = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => void (this.output = (this.output + chunk.toString()).slice(-4000)));
    child.stderr?.on('data', (chunk: Buffer) => void (this.output = (this.output + chunk.toString()).slice(-4000)));
  }

  /** `env`: BATCHGATE_BACKEND_* settings (BASE_MS, CONCURRENCY, FAILURE_RATE ...). */
  static async start(env: Record<string, string> = {}): Promise<SimBackend> {
    const port = await freePort();
    const child = spawn(process.execPath, ['dist/tools/inference-backend/main.js'], {
      env: { PATH: process.env.PATH ?? '', ...env, BATCHGATE_INFERENCE_BACKEND_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const guard = () => void child.kill('SIGKILL');
    process.once('exit', guard);
    child.once('exit', () => process.off('exit', guard));
    const backend = new SimBackend(child, `http://127.0.0.1:${port}`);
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      if (child.exitCode !== null) throw new Error(`the inference backend exited:\n${backend.output}`);
      try {
        if ((await fetch(`${backend.url}/healthz`)).status === 200) return backend;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await backend.stop();
    throw new Error(`the inference backend did not start:\n${backend.output}`);
  }

  get log(): string {
    return this.output;
  }

  async stats(): Promise<BackendStats> {
    return (await (await fetch(`${this.url}/stats`)).json()) as BackendStats;
  }

  /** Every call fails (503) for the next `forMs` ms; 0 ends a failure window. */
  async fail(forMs: number): Promise<void> {
    const response = await fetch(`${this.url}/admin/fail`, { method: 'POST', body: JSON.stringify({ for_ms: forMs }) });
    if (response.status !== 200) throw new Error(`/admin/fail answered ${response.status}`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}
