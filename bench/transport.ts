// How much does @nestjs/microservices' NATS transport add per request/reply
// over the raw @nats-io client? DESIGN asks for this before putting the
// transport on a hot path (join, decide, result). Prints numbers; no thresholds.
//   npm run bench:transport
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { ClientProxy } from '@nestjs/microservices';
import { ClientProxyFactory, MessagePattern, Payload, Transport } from '@nestjs/microservices';
import { connect } from '@nats-io/transport-node';
import { firstValueFrom } from 'rxjs';
import { startNats } from '#infra';

const ROUNDS = Number(process.env.ROUNDS ?? 5000);
const WARMUP = 500;

/** A decide-shaped payload: features of `slots` open slots. */
function payload(slots: number) {
  return {
    coordinatorId: 'bench',
    slots: Array.from({ length: slots }, (_, i) => ({
      slotId: `slot-${i}`,
      route: 'default',
      size: 10,
      ageMs: 12.5,
      upstreamP99Ms: 20,
      requestRate: 300,
      queueDepth: 40,
    })),
  };
}

function decide(request: ReturnType<typeof payload>) {
  return { decisions: request.slots.map((s) => ({ slotId: s.slotId, action: s.ageMs > 20 ? 2 : 1 })) };
}

@Controller()
class BenchController {
  @MessagePattern('bench.nest.decide')
  decide(@Payload() request: ReturnType<typeof payload>) {
    return decide(request);
  }
}

@Module({ controllers: [BenchController] })
class BenchModule {}

async function time(label: string, rounds: number, once: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = process.hrtime.bigint();
    await once();
    samples.push(Number(process.hrtime.bigint() - started) / 1000);
  }
  samples.sort((a, b) => a - b);
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  const q = (p: number) => samples[Math.min(samples.length - 1, Math.ceil(p * samples.length) - 1)]!;
  console.log(
    `${label.padEnd(34)} mean ${mean.toFixed(1).padStart(7)} µs   p50 ${q(0.5).toFixed(1).padStart(7)} µs   p99 ${q(0.99).toFixed(1).padStart(7)} µs`,
  );
  return [mean, q(0.5), q(0.99)];
}

const nats = await startNats();
try {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const server = await connect({ servers: nats.url });
  server.subscribe('bench.raw.decide', {
    callback: (_error, msg) =>
      void msg.respond(encoder.encode(JSON.stringify(decide(JSON.parse(decoder.decode(msg.data)) as ReturnType<typeof payload>)))),
  });
  const client = await connect({ servers: nats.url });

  const microservice = await NestFactory.createMicroservice(BenchModule, {
    transport: Transport.NATS,
    options: { servers: [nats.url] },
    logger: false,
  });
  await microservice.listen();
  const proxy: ClientProxy = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [nats.url] } });
  await proxy.connect();

  console.log(`request/reply on loopback, ${ROUNDS} sequential rounds after ${WARMUP} warm-up, JSON payloads both ways`);
  for (const slots of [1, 100]) {
    const body = payload(slots);
    const raw = await time(
      `raw @nats-io client, ${slots} slot(s)`,
      ROUNDS,
      async () =>
        JSON.parse(
          decoder.decode((await client.request('bench.raw.decide', encoder.encode(JSON.stringify(body)), { timeout: 1000 })).data),
        ) as unknown,
    );
    const nest = await time(`Nest NATS transport, ${slots} slot(s)`, ROUNDS, () => firstValueFrom(proxy.send('bench.nest.decide', body)));
    console.log(
      `  -> Nest adds ${(nest[0]! - raw[0]!).toFixed(1)} µs mean, ${(nest[1]! - raw[1]!).toFixed(1)} µs p50, ${(nest[2]! - raw[2]!).toFixed(1)} µs p99 per round trip`,
    );
  }
  await proxy.close();
  await microservice.close();
  await client.close();
  await server.close();
} finally {
  await nats.dispose();
}
