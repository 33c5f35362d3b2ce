import type { DynamicModule } from '@nestjs/common';
import { Module } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Bus } from '#libs/nats';
import type { Readiness } from '#libs/service';
import { createServiceApp, OpsController, READINESS, recorderReadiness, ServiceCoreModule } from '#libs/service';
import type { TelemetryConfig } from './config.js';
import { TELEMETRY_CONFIG } from './config.js';
import { EpisodeRecorder } from './episode-recorder.js';
import { EpisodesController } from './episodes.controller.js';
import { ExportController } from './export.controller.js';
import { LearnSchedule } from './learn-schedule.js';
import { Recorder } from './recorder.js';
import { StatusController } from './status.controller.js';

@Module({})
export class TelemetryModule {
  static forRoot(config: TelemetryConfig): DynamicModule {
    return {
      module: TelemetryModule,
      imports: [ServiceCoreModule.forRoot({ service: 'telemetry', common: config })],
      controllers: [OpsController, ExportController, EpisodesController, StatusController],
      providers: [
        { provide: TELEMETRY_CONFIG, useValue: config },
        Recorder,
        EpisodeRecorder,
        LearnSchedule,
        {
          provide: READINESS,
          inject: [Bus, Recorder],
          useFactory:
            (bus: Bus, recorder: Recorder): Readiness =>
            () =>
              recorderReadiness({ nats: bus.connected, following: recorder.following }),
        },
      ],
    };
  }
}

/** Builds and starts the telemetry app; its /metrics is the fleet-wide view (main.ts and tests). */
export function createTelemetryApp(config: TelemetryConfig): Promise<NestFastifyApplication> {
  return createServiceApp(TelemetryModule.forRoot(config), config.metricsPort, config.metricsHost);
}
