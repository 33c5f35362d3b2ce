import type { BeforeApplicationShutdown, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Inject, Injectable } from '@nestjs/common';
import type { Duplex } from 'node:stream';
import { Counter, Gauge, Registry } from '#libs/metrics';
import type { RouteTable } from '#libs/config';
import { parsePolicyDocument } from '#libs/config';
import { Bus, CONFIG_KEYS, EventPublisher, LargeMessages } from '#libs/nats';
import { createStrategy } from '#libs/policy';
import { JetStreamProvider, LiveConfig, LOGGER } from '#libs/service';
import type { Logger } from '#libs/tracing';
import { OriginPool } from '#libs/upstream';
import { Coalescer } from './coalesce.js';
import type { IngressConfig } from './config.js';
import { INGRESS_CONFIG } from './config.js';
import { DEFAULT_STREAM_LIMITS } from './body-stream.js';
import { DirectCall } from './direct-call.js';
import { BusyLoop } from './busy-loop.js';
import { FleetLink } from './fleet-link.js';
import type { Gateway } from './gateway.js';
import { RequestLog } from './request-log.js';

/** How long a graceful stop waits for parked waiters to be answered. */
const DRAIN_MS = 10_000;

/** The ingress's parts, wired once, with their lifecycle. */
@Injectable()
export class IngressService implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  readonly origins: OriginPool;
  readonly log: RequestLog;
  readonly coalescer: Coalescer;
  /** The live route table: the KV policy document once one exists, the routes file until then. */
  routes: RouteTable;
  /** Open Upgrade tunnels (client side); closed before the HTTP server stops. */
  readonly tunnels = new Set<Duplex>();
  private readonly liveRoutes: LiveConfig<RouteTable>;
  private readonly shedRequests: Counter<'reason'>;
  private gateway: Gateway | undefined;
  /** Called when a graceful stop begins, before the drain (the inference front answers new requests 503 from then on). */
  readonly onDrain: Array<() => void> = [];
  private readonly loop: BusyLoop;

  constructor(
    @Inject(INGRESS_CONFIG) readonly config: IngressConfig,
    @Inject(LOGGER) readonly logger: Logger,
    bus: Bus,
    events: EventPublisher,
    jetstream: JetStreamProvider,
    large: LargeMessages,
    registry: Registry,
  ) {
    this.origins = new OriginPool({
      connections: config.upstreamConnections,
      timeoutMs: config.upstreamTimeoutMs,
      maxBodyBytes: config.maxBodyBytes,
    });
    this.loop = new BusyLoop(config.soleCallMaxBusy);
    this.log = new RequestLog(registry, events, `ingress/${config.instanceId}`);
    this.routes = config.routes;
    this.liveRoutes = new LiveConfig(
      jetstream,
      CONFIG_KEYS.routes,
      (json) => parsePolicyDocument(json, config.envelope).routes,
      (routes) => {
        this.routes = routes;
      },
      logger,
    );
    const fallbacks = new Counter({
      name: 'batchgate_ingress_fallback_total',
      help: 'Slots served without the fleet, by cause (nats_down, join_*, flush_deadline, result_deadline, orphaned)',
      labelNames: ['reason'],
      registers: [registry],
    });
    // A streamed body with no piece for the upstream timeout (plus the result grace) lost its producer.
    const streams = { ...DEFAULT_STREAM_LIMITS, idleMs: config.upstreamTimeoutMs + 1000 };
    this.coalescer = new Coalescer({
      fleet: new FleetLink(bus, large, config.instanceId, () => !this.loop.busy, streams),
      direct: new DirectCall(this.origins, config.upstream, events, `ingress/${config.instanceId}`, streams),
      log: this.log,
      fallback: createStrategy(config.fallbackStrategy),
      fallbacks,
      logger,
      options: {
        joinTimeoutMs: config.joinTimeoutMs,
        flushGraceMs: config.flushGraceMs,
        upstreamTimeoutMs: config.upstreamTimeoutMs,
        reportIntervalMs: config.reportIntervalMs,
      },
    });
    this.shedRequests = new Counter({
      name: 'batchgate_ingress_shed_requests_total',
      help: 'Requests answered 503 + Retry-After by the gateway budgets, by budget (connections, inflight)',
      labelNames: ['reason'],
      registers: [registry],
    });
    const gateway = () => this.gateway;
    new Gauge({
      name: 'batchgate_ingress_open_connections',
      help: 'Open client connections on the gateway port',
      registers: [registry],
      collect() {
        this.set(gateway()?.admission.openConnections ?? 0);
      },
    });
    new Gauge({
      name: 'batchgate_ingress_requests_in_flight',
      help: 'Admitted gateway requests not yet answered',
      registers: [registry],
      collect() {
        this.set(gateway()?.admission.requestsInFlight ?? 0);
      },
    });
    const coalescer = this.coalescer;
    new Gauge({
      name: 'batchgate_ingress_waiters',
      help: 'Client requests parked in local slots',
      registers: [registry],
      collect() {
        this.set(coalescer.waiters());
      },
    });
    new Gauge({
      name: 'batchgate_ingress_open_slots',
      help: 'Local slots with waiters still to answer',
      registers: [registry],
      collect() {
        this.set(coalescer.pending);
      },
    });
  }

  /** The gateway server this service answers for; its lifecycle follows the service's. */
  attachGateway(gateway: Gateway): void {
    this.gateway = gateway;
  }

  /** Whether the gateway takes connections (not yet attached, or stopped for the drain: it does not). */
  get gatewayListening(): boolean {
    return this.gateway?.listening ?? false;
  }

  /** The port the gateway (client traffic) listens on. */
  get gatewayPort(): number {
    return this.gateway?.port ?? 0;
  }

  /** A request answered 503 by the gateway itself: counted, and recorded (path shed) for the fleet's view. */
  shed(reason: 'connections' | 'inflight'): void {
    this.shedRequests.inc({ reason });
    this.log.record({ key: '', route: '', path: 'shed', status: 503, arrivedAtWallMs: Date.now(), latencyMs: 0, slotId: '' });
  }

  onModuleInit(): void {
    this.coalescer.start();
    this.liveRoutes.start();
  }

  /** The gateway stops taking connections; long-lived tunnels would hold it open forever, so they close first. */
  beforeApplicationShutdown(): void {
    for (const socket of this.tunnels) socket.destroy();
    for (const hook of this.onDrain) hook();
    this.gateway?.stopAccepting();
  }

  /** Drains: parked waiters and pass-through requests are answered (or reach their deadline) before the pools and the gateway close. */
  async onApplicationShutdown(): Promise<void> {
    const until = Date.now() + DRAIN_MS;
    // Parked waiters and requests still streaming through (pass-through) both get the drain time.
    const busy = () => this.coalescer.pending > 0 || (this.gateway?.admission.requestsInFlight ?? 0) > 0;
    while (busy() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    this.coalescer.stop();
    this.loop.stop();
    this.gateway?.closeAll();
    this.liveRoutes.close();
    this.log.flush();
    await this.origins.close();
  }
}
