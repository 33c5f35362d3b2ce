import type { DynamicModule } from '@nestjs/common';
import { Module } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createServiceApp, OpsController, ServiceCoreModule } from '#libs/service';
import type { WorkerConfig } from './config.js';
import { WORKER_CONFIG } from './config.js';
import { FetchHandler } from './fetch.handler.js';
import { HeartbeatBeacon } from './heartbeat.js';
import { InferHandler } from './inference/infer.handler.js';

@Module({})
export class WorkerModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [ServiceCoreModule.forRoot({ service: 'worker', common: config })],
      controllers: [OpsController],
      providers: [{ provide: WORKER_CONFIG, useValue: config }, HeartbeatBeacon, FetchHandler, InferHandler],
    };
  }
}

/** Builds and starts the worker app (main.ts and the end-to-end tests). */
export function createWorkerApp(config: WorkerConfig): Promise<NestFastifyApplication> {
  return createServiceApp(WorkerModule.forRoot(config), config.httpPort, config.httpHost);
}
