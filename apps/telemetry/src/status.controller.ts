import { Controller, Get, Header, Inject, OnModuleDestroy, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { StatusSnapshot } from './live-view.js';
import { Recorder } from './recorder.js';
import { STATUS_CSS, STATUS_HTML, STATUS_JS } from './status-page.js';

/** Scripts, styles and data from this origin only: the page runs nothing it did not ship. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'";
const PUSH_MS = 1000;

const require = createRequire(import.meta.url);
/** uPlot (npm) draws the charts; it is served from node_modules, never from a CDN. */
const UPLOT_JS = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
const UPLOT_CSS = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');

/**
 * The status page at the root of the telemetry service's port: one HTML page,
 * its script and styles, and an SSE stream that pushes a snapshot of the
 * live view every second (GET /status/snapshot gives one as JSON).
 */
@Controller()
export class StatusController implements OnModuleDestroy {
  /** Open SSE streams, ended on shutdown so they do not hold the HTTP server open. */
  private readonly streams = new Map<NodeJS.Timeout, { end(): void }>();

  constructor(@Inject(Recorder) private readonly recorder: Recorder) {}

  onModuleDestroy(): void {
    for (const [timer, res] of this.streams) {
      clearInterval(timer);
      res.end();
    }
    this.streams.clear();
  }

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', CSP)
  page(): string {
    return STATUS_HTML;
  }

  @Get('status/app.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  script(): string {
    return STATUS_JS;
  }

  @Get('status/app.css')
  @Header('Content-Type', 'text/css; charset=utf-8')
  styles(): string {
    return STATUS_CSS;
  }

  @Get('status/uplot.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'max-age=3600')
  chartScript(): string {
    return UPLOT_JS;
  }

  @Get('status/uplot.css')
  @Header('Content-Type', 'text/css; charset=utf-8')
  @Header('Cache-Control', 'max-age=3600')
  chartStyles(): string {
    return UPLOT_CSS;
  }

  @Get('status/snapshot')
  @Header('Cache-Control', 'no-store')
  snapshot(): StatusSnapshot {
    return this.recorder.snapshot(Date.now());
  }

  @Get('status/stream')
  stream(@Res() reply: FastifyReply): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    const push = () => res.write(`data: ${JSON.stringify(this.recorder.snapshot(Date.now()))}\n\n`);
    push();
    const timer = setInterval(push, PUSH_MS);
    this.streams.set(timer, res);
    res.once('close', () => {
      clearInterval(timer);
      this.streams.delete(timer);
    });
  }
}
