import type { DynamicModule } from '@nestjs/common';
import { Module } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Readiness } from '#libs/service';
import { coordinatorReadiness, createServiceApp, OpsController, READINESS, ServiceCoreModule } from '#libs/service';
import { Bus } from '#libs/nats';
import type { CoordinatorConfig } from './config.js';
import { COORDINATOR_CONFIG } from './config.js';
import { CoordinatorService } from './coordinator.service.js';
import { InferAdminController } from './inference/infer-admin.controller.js';

@Module({})
export class CoordinatorModule {
  static forRoot(config: CoordinatorConfig): DynamicModule {
    return {
      module: CoordinatorModule,
      imports: [ServiceCoreModule.forRoot({ service: 'coordinator', common: config })],
      controllers: [OpsController, InferAdminController],
      providers: [
        { provide: COORDINATOR_CONFIG, useValue: config },
        CoordinatorService,
        {
          provide: READINESS,
          inject: [Bus, CoordinatorService],
          useFactory:
            (bus: Bus, coordinator: CoordinatorService): Readiness =>
            () =>
              coordinatorReadiness({ nats: bus.connected, redis: coordinator.leases.redisUp, partitions: coordinator.leases.owned.size }),
        },
      ],
    };
  }
}

/** Builds and starts the coordinator app (main.ts and the end-to-end tests). */
export function createCoordinatorApp(config: CoordinatorConfig): Promise<NestFastifyApplication> {
  return createServiceApp(CoordinatorModule.forRoot(config), config.httpPort, config.httpHost);
}
