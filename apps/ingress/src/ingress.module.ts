import type { DynamicModule } from '@nestjs/common';
import { Module } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Bus } from '#libs/nats';
import type { Readiness } from '#libs/service';
import { createServiceApp, ingressReadiness, OpsController, READINESS, ServiceCoreModule } from '#libs/service';
import { AdminController } from './admin.controller.js';
import type { IngressConfig } from './config.js';
import { INGRESS_CONFIG } from './config.js';
import { IngressService } from './ingress.service.js';
import { Gateway } from './gateway.js';
import { proxyHandlers } from './proxy.route.js';
import { inferenceFirst } from './inference/inference.wiring.js';

@Module({})
export class IngressModule {
  static forRoot(config: IngressConfig): DynamicModule {
    return {
      module: IngressModule,
      imports: [ServiceCoreModule.forRoot({ service: 'ingress', common: config })],
      controllers: [OpsController, AdminController],
      providers: [
        { provide: INGRESS_CONFIG, useValue: config },
        IngressService,
        {
          // The ingress can answer without NATS (it degrades to local coalescing): ready while its gateway listens.
          provide: READINESS,
          inject: [Bus, IngressService],
          useFactory:
            (bus: Bus, ingress: IngressService): Readiness =>
            () =>
              ingressReadiness({ nats: bus.connected, gatewayListening: ingress.gatewayListening }),
        },
      ],
    };
  }
}

/**
 * Builds and starts the ingress (main.ts and the end-to-end tests): the Nest
 * app (health, readiness, metrics, admin API) on the operator port, and the
 * gateway server, which proxies every path, on the gateway port.
 */
export async function createIngressApp(config: IngressConfig): Promise<NestFastifyApplication> {
  const app = await createServiceApp(IngressModule.forRoot(config), config.httpPort, config.httpHost);
  const ingress = app.get(IngressService);
  // Flow B's /v1 endpoints are routed before the pass-through proxy.
  const gateway = new Gateway(config, inferenceFirst(app, ingress, proxyHandlers(ingress)));
  ingress.attachGateway(gateway);
  try {
    await gateway.listen(config.port, config.host);
  } catch (error) {
    await app.close();
    throw error;
  }
  return app;
}
