import { BadRequestException, Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { StrategyConfigError } from '#libs/policy';
import { authorizeAdmin } from '#libs/service';
import type { CoordinatorConfig } from '../config.js';
import { COORDINATOR_CONFIG } from '../config.js';
import { CoordinatorService } from '../coordinator.service.js';

/**
 * Flow B on the coordinator's operator port: seed 004's
 * POST /admin/strategy/{name} (per model with ?model=, else every model) and
 * GET /metrics/json. A switch is stored in the config bucket, so every
 * coordinator runs it, a partition's next owner included.
 */
@Controller()
export class InferAdminController {
  constructor(
    @Inject(COORDINATOR_CONFIG) private readonly config: CoordinatorConfig,
    private readonly coordinator: CoordinatorService,
  ) {}

  @Post('admin/strategy/:name')
  @HttpCode(200)
  async setStrategy(
    @Param('name') name: string,
    @Body() body: { params?: Record<string, number> } | undefined,
    @Query('model') model: string | undefined,
    @Headers('authorization') authorization?: string,
  ): Promise<{ model: string; strategy: string; params: Record<string, number> }> {
    this.authorize(authorization);
    const params = body?.params ?? {};
    if (typeof params !== 'object' || Object.values(params).some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
      throw new BadRequestException({ error: 'invalid_config', message: 'params must map parameter names to numbers' });
    }
    try {
      const spec = await this.coordinator.switchStrategy({ name, params }, model || undefined);
      return { model: model || '*', strategy: spec.name, params: spec.params };
    } catch (error) {
      if (error instanceof StrategyConfigError) throw new BadRequestException({ error: 'invalid_config', message: error.message });
      throw error;
    }
  }

  @Get('metrics/json')
  metricsJson(): Record<string, unknown> {
    return this.coordinator.inferenceSnapshot();
  }

  private authorize(header: string | undefined): void {
    authorizeAdmin(this.config.inference.adminToken, header);
  }
}
