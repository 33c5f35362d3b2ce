import { Controller, Get, Header, HttpCode, Inject, Optional, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Registry } from 'prom-client';
import { READINESS } from './tokens.js';

/** A service's own readiness: ready when it can do its job now, with a reason per dependency. */
export type Readiness = () => { ready: boolean; checks: Record<string, boolean | string> };

/** /healthz (process alive), /readyz (dependencies), /metrics (Prometheus text). */
@Controller()
export class OpsController {
  constructor(
    private readonly registry: Registry,
    @Optional() @Inject(READINESS) private readonly readiness?: Readiness,
  ) {}

  @Get('healthz')
  @HttpCode(200)
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  readyz(@Res() reply: FastifyReply): void {
    const state = this.readiness?.() ?? { ready: true, checks: {} };
    void reply.status(state.ready ? 200 : 503).send({ status: state.ready ? 'ready' : 'not ready', ...state.checks });
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
