import { Controller, Get, Header, HttpCode, Inject, Optional, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Bus } from '#libs/nats';
import { Registry } from 'prom-client';
import type { Readiness } from './readiness.js';
import { READINESS } from './tokens.js';

/** /healthz (process alive), /readyz (dependencies), /metrics (Prometheus text). */
@Controller()
export class OpsController {
  constructor(
    private readonly registry: Registry,
    private readonly bus: Bus,
    @Optional() @Inject(READINESS) private readonly readiness?: Readiness,
  ) {}

  @Get('healthz')
  @HttpCode(200)
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  readyz(@Res() reply: FastifyReply): void {
    // Without a service-specific check, ready means "connected to NATS".
    const state = this.readiness?.() ?? { ready: this.bus.connected, checks: { nats: this.bus.connected } };
    void reply.status(state.ready ? 200 : 503).send({ status: state.ready ? 'ready' : 'not ready', ...state.checks });
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
