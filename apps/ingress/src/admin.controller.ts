import { BadRequestException, Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Put } from '@nestjs/common';
import type { PolicyDocument, StrategySpec } from '#libs/config';
import { formatStrategySpec, parsePolicyDocument, policyDocumentJson } from '#libs/config';
import { CONFIG_KEYS } from '#libs/nats';
import { checkStrategySetting } from '#libs/policy';
import { authorizeAdmin, JetStreamProvider } from '#libs/service';
import type { IngressConfig } from './config.js';
import { INGRESS_CONFIG } from './config.js';
import { IngressService } from './ingress.service.js';

interface StoredDocument {
  revision: number;
  document: Record<string, unknown>;
}

/**
 * The policy admin API (seed 004's /admin/strategy plus route control). Every
 * write is validated whole (routes, envelopes, strategy names and parameters)
 * and then stored as one KV revision, which every policy and ingress replica
 * applies; an invalid body is a 400 with the reason and changes nothing.
 */
@Controller('admin')
export class AdminController {
  constructor(
    @Inject(INGRESS_CONFIG) private readonly config: IngressConfig,
    private readonly jetstream: JetStreamProvider,
    private readonly ingress: IngressService,
  ) {}

  @Get('policy/routes')
  async routes(@Headers('authorization') authorization?: string): Promise<StoredDocument> {
    this.authorize(authorization);
    return this.current();
  }

  @Put('policy/routes')
  async putRoutes(@Body() body: unknown, @Headers('authorization') authorization?: string): Promise<StoredDocument> {
    this.authorize(authorization);
    const document = this.validate(body);
    return this.store(policyDocumentJson(document.routes, document.defaultPolicy));
  }

  @Post('strategy/:name')
  @HttpCode(200)
  async setStrategy(
    @Param('name') name: string,
    @Body() body: { params?: Record<string, number> } | undefined,
    @Headers('authorization') authorization?: string,
  ): Promise<StoredDocument> {
    this.authorize(authorization);
    const params = body?.params ?? {};
    const bad = Object.entries(params).find(
      ([key, value]) => !/^[a-z_][a-z0-9_]*$/.test(key) || typeof value !== 'number' || !Number.isFinite(value),
    );
    if (typeof params !== 'object' || bad) {
      throw new BadRequestException({
        error: 'invalid_config',
        reason: `params must map parameter names to numbers${bad ? ` (got ${JSON.stringify(bad[0])})` : ''}`,
      });
    }
    const spec: StrategySpec = { name, params };
    const { document } = await this.current();
    const next = { ...document, defaultPolicy: formatStrategySpec(spec) };
    const parsed = this.validate(next);
    return this.store(policyDocumentJson(parsed.routes, parsed.defaultPolicy));
  }

  private authorize(header: string | undefined): void {
    authorizeAdmin(this.config.adminToken, header);
  }

  private validate(body: unknown): PolicyDocument {
    try {
      if (typeof body !== 'object' || body === null) throw new Error('body must be a JSON object');
      const document = parsePolicyDocument(body, this.config.envelope);
      if (document.defaultPolicy) checkStrategySetting('defaultPolicy', document.defaultPolicy);
      for (const route of document.routes.routes) if (route.policy) checkStrategySetting(`route "${route.name}" policy`, route.policy);
      return document;
    } catch (error) {
      throw new BadRequestException({
        error: 'invalid_config',
        reason: (error as Error).message.replace(/^invalid configuration:\s*-\s*/, ''),
      });
    }
  }

  private async current(): Promise<StoredDocument> {
    const { config } = await this.jetstream.whenReady();
    const entry = await config.get(CONFIG_KEYS.routes);
    if (entry && entry.operation === 'PUT') return { revision: entry.revision, document: entry.json<Record<string, unknown>>() };
    return { revision: 0, document: policyDocumentJson(this.ingress.routes, undefined) };
  }

  private async store(document: Record<string, unknown>): Promise<StoredDocument> {
    const { config } = await this.jetstream.whenReady();
    const revision = await config.put(CONFIG_KEYS.routes, JSON.stringify(document));
    return { revision, document };
  }
}
