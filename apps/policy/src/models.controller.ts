import { Controller, Get } from '@nestjs/common';
import type { ModelVerdict } from './models.js';
import { PolicyRuntime } from './policy-runtime.js';

/**
 * GET /models on the operator port: the live model, the one in shadow, and
 * how the last shadow runs ended (promoted, refused by the promotion gate,
 * dropped for NaN; skipped: a published model not offered since a refusal of
 * it is on record, with who refused it and why) with the reason and the
 * model's sha256; `policy:learn` waits on it.
 */
@Controller('models')
export class ModelsController {
  constructor(private readonly runtime: PolicyRuntime) {}

  @Get()
  models(): {
    active: string | null;
    shadow: { version: string; compared: number; remaining: number } | null;
    verdicts: readonly ModelVerdict[];
  } {
    const models = this.runtime.models;
    return { active: models.activeVersion ?? null, shadow: models.shadowState ?? null, verdicts: models.verdicts };
  }
}
