import type { DynamicModule } from '@nestjs/common';
import { Module } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createServiceApp, OpsController, ServiceCoreModule } from '#libs/service';
import type { PolicyConfig } from './config.js';
import { POLICY_CONFIG } from './config.js';
import { DecideHandler } from './decide.handler.js';
import { ModelsController } from './models.controller.js';
import { PolicyRuntime } from './policy-runtime.js';

@Module({})
export class PolicyModule {
  static forRoot(config: PolicyConfig): DynamicModule {
    return {
      module: PolicyModule,
      imports: [ServiceCoreModule.forRoot({ service: 'policy', common: config })],
      controllers: [OpsController, ModelsController],
      providers: [{ provide: POLICY_CONFIG, useValue: config }, PolicyRuntime, DecideHandler],
    };
  }
}

/** Builds and starts the policy app (main.ts and the end-to-end tests). */
export function createPolicyApp(config: PolicyConfig): Promise<NestFastifyApplication> {
  return createServiceApp(PolicyModule.forRoot(config), config.httpPort, config.httpHost);
}
