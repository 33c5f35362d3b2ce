import { Controller, Get, Header, Inject, Query } from '@nestjs/common';
import { arrivalsJsonl } from './projections.js';
import { Recorder } from './recorder.js';

/**
 * Recorded arrival traces for the simulator's replay: JSON Lines, one
 * {"t_ms", "key", "route"} per arrival, oldest first.
 */
@Controller('export')
export class ExportController {
  constructor(@Inject(Recorder) private readonly recorder: Recorder) {}

  @Get('arrivals.jsonl')
  @Header('Content-Type', 'application/x-ndjson')
  arrivals(@Query('route') route?: string): string {
    return arrivalsJsonl(this.recorder.projection, route);
  }
}
