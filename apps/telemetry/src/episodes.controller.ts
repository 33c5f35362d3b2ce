import { Controller, Get, Header, Query } from '@nestjs/common';
import { EpisodeRecorder } from './episode-recorder.js';
import { episodesJsonl } from './episodes.js';

/**
 * Recorded decision episodes for `policy:learn` and `sim replay --episodes`:
 * JSON Lines, one flushed slot per line (format: libs/sim/episodes.ts).
 */
@Controller('export')
export class EpisodesController {
  constructor(private readonly recorder: EpisodeRecorder) {}

  @Get('episodes.jsonl')
  @Header('Content-Type', 'application/x-ndjson')
  episodes(@Query('route') route?: string): string {
    return episodesJsonl(this.recorder.book, route);
  }
}
