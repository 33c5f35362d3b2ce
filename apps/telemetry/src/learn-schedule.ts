import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import type { AddressInfo, Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { LOGGER } from '#libs/service';
import type { Logger } from '#libs/tracing';
import type { TelemetryConfig } from './config.js';
import { TELEMETRY_CONFIG } from './config.js';

/** The built CLI beside this file in dist/ (dist/apps/telemetry/src -> dist/tools/learn). */
const LEARN_CLI = fileURLToPath(new URL('../../../tools/learn/main.js', import.meta.url));

/**
 * The learn loop on a schedule inside the fleet (BATCHGATE_LEARN_EVERY_MS,
 * off by default): every period, `policy:learn` on this service's own
 * recordings, as a child process so its training never holds up the event
 * loop that records events; one run at a time, its summary line logged.
 */
@Injectable()
export class LearnSchedule implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: ChildProcess | undefined;

  constructor(
    @Inject(TELEMETRY_CONFIG) private readonly config: TelemetryConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly http: HttpAdapterHost,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.learnEveryMs === 0) return;
    this.timer = setInterval(() => this.run(), this.config.learnEveryMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.running?.kill();
  }

  private run(): void {
    if (this.running) return this.logger.warn({}, 'policy:learn still running from the last period; this one skipped');
    const server = this.http.httpAdapter.getHttpServer() as Server;
    const { port } = server.address() as AddressInfo;
    const args = [LEARN_CLI, '--telemetry-url', `http://127.0.0.1:${port}`, ...this.config.learnArgs];
    // Secrets by environment, not argv (which `ps` shows): the NATS URL may carry credentials.
    const env = { NATS_URL: this.config.natsUrl, ...(this.config.adminToken ? { BATCHGATE_ADMIN_TOKEN: this.config.adminToken } : {}) };
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.running = child;
    let last = '';
    const keep = (chunk: Buffer) => {
      const lines = chunk.toString().trim().split('\n');
      last = lines.at(-1) ?? last;
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('exit', (code) => {
      this.running = undefined;
      if (code === 0) this.logger.info({ summary: last }, 'policy:learn ran');
      else this.logger.error({ code, last }, 'policy:learn failed');
    });
  }
}
