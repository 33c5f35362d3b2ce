import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Registry } from '#libs/metrics';
import { Bus, LargeMessages } from '#libs/nats';
import type { GatewayHandlers } from '../gateway.js';
import type { IngressService } from '../ingress.service.js';
import { InferLink } from './infer-link.js';
import { InferenceFront } from './inference.route.js';
import { InferenceMetrics } from './inference-metrics.js';

/**
 * The gateway handlers with the /v1 inference endpoints in front of the
 * proxy: a POST to one of them is Flow B's, everything else is Flow A's.
 */
export function inferenceFirst(app: NestFastifyApplication, ingress: IngressService, proxy: GatewayHandlers): GatewayHandlers {
  const link = new InferLink(app.get(Bus), app.get(LargeMessages), ingress.config.instanceId, ingress.logger);
  const front = new InferenceFront(ingress.config, link, new InferenceMetrics(app.get(Registry)), ingress.logger);
  link.start();
  ingress.onDrain.push(() => front.drain());
  return {
    ...proxy,
    request(req, res) {
      const kind = front.kindOf(req);
      if (kind === undefined) proxy.request(req, res);
      else front.handle(kind, req, res);
    },
  };
}
