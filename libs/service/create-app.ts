import type { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyAdapter } from '@nestjs/platform-fastify';

/**
 * Builds and starts a service's Nest app on Fastify: shutdown hooks on (SIGTERM
 * drains), Nest's own logger off (pino is used), errors surfaced to the caller
 * instead of aborting silently. `prepare` runs before listen (routes, server tweaks).
 */
export async function createServiceApp(
  module: DynamicModule,
  port: number,
  host: string,
  prepare?: (app: NestFastifyApplication) => void,
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(module, new FastifyAdapter(), { logger: false, abortOnError: false });
  app.enableShutdownHooks();
  prepare?.(app);
  await app.listen(port, host);
  return app;
}
