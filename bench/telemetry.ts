// npm run bench:telemetry — what tracing and the event log cost, in one run.
// Starts the `npm start` stack four times in front of a 20 ms origin: once with
// events and tracing off (BATCHGATE_EVENTS=off, no OTLP endpoint), then with
// events on, then with tracing on too (10 % and every request sampled,
// exported over OTLP/HTTP to a sink this process runs); drives each with autocannon (100 keys, 50 connections) and
// prints RPS and latency. Then floods the events stream with acknowledged
// publishes and prints how many events per second the recorder applies.
// Short runs (BENCH_DURATION_S, default 6 s); numbers only, no thresholds.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import autocannon from 'autocannon';
import { create, RequestsCompletedSchema, RequestPath, toBinary } from '#libs/contracts';
import { Bus, EVENT_SCHEMA_HEADER, eventMeta, SUBJECTS } from '#libs/nats';
import { startStack } from '#stack';
import { jetstream } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 6);
const FLOOD_EVENTS = Number(process.env.BENCH_FLOOD_EVENTS ?? 20_000);
const ORIGIN_DELAY_MS = 20;

/** An OTLP/HTTP receiver that counts what it is sent and keeps nothing. */
async function otlpSink(): Promise<{ url: string; bytes: () => number; stop: () => Promise<void> }> {
  let bytes = 0;
  const server = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => void (bytes += chunk.length));
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bytes: () => bytes,
    stop: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/** Sum of a counter's samples in Prometheus text. */
function counter(text: string, name: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

const metricsOf = async (url: string) => (await fetch(url)).text();

interface Row {
  mode: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  eventsPerS: number;
  otlpKiBPerS: number;
}

async function measure(mode: string, env: Record<string, string>, sinkBytes: () => number): Promise<Row> {
  const stack = await startStack({ env: { ...process.env, BATCHGATE_LOG_LEVEL: 'warn', ...env }, originDelayMs: ORIGIN_DELAY_MS });
  try {
    const gateway = stack.urls.ingresses[0]!;
    await autocannon({ url: `${gateway}/api/warm`, connections: 20, duration: 2 });
    const eventsBefore = counter(await metricsOf(stack.urls.metrics!), 'batchgate_telemetry_events_total');
    const bytesBefore = sinkBytes();
    const result = await autocannon({
      url: gateway,
      connections: 50,
      duration: DURATION_S,
      requests: [{ setupRequest: (request) => ({ ...request, path: `/api/item/${Math.floor(Math.random() * 100)}` }) }],
    });
    // Give the last batches (request.completed, spans) a moment to land.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const events = counter(await metricsOf(stack.urls.metrics!), 'batchgate_telemetry_events_total') - eventsBefore;
    process.stdout.write(`  measured ${mode}\n`);
    return {
      mode,
      rps: result.requests.average,
      p50: result.latency.p50,
      p99: result.latency.p99,
      errors: result.errors + result.non2xx + result.timeouts,
      eventsPerS: events / DURATION_S,
      otlpKiBPerS: (sinkBytes() - bytesBefore) / 1024 / DURATION_S,
    };
  } finally {
    await stack.stop();
  }
}

/** Publishes FLOOD_EVENTS request.completed events (acknowledged, 256 in flight) and times the recorder applying them. */
async function flood(): Promise<{ publishPerS: number; appliedPerS: number }> {
  const stack = await startStack({ env: { ...process.env, BATCHGATE_LOG_LEVEL: 'warn' }, originDelayMs: ORIGIN_DELAY_MS });
  const logger = { info: () => undefined, warn: console.warn, error: console.error };
  const bus = await Bus.connect({ url: stack.env.NATS_URL!, name: 'bench-flood', logger });
  try {
    const js = jetstream(bus.connection!);
    const before = counter(await metricsOf(stack.urls.metrics!), 'batchgate_telemetry_events_total');
    const record = {
      key: 'k',
      route: 'default',
      path: RequestPath.COALESCED,
      status: 200,
      latencyMs: 21,
      arrivedAtMs: Date.now(),
      slotId: 's',
    };
    const started = performance.now();
    let next = 0;
    const lane = async () => {
      while (next < FLOOD_EVENTS) {
        next++;
        const meta = eventMeta('bench/flood');
        const headers = natsHeaders();
        headers.set(EVENT_SCHEMA_HEADER, RequestsCompletedSchema.typeName);
        const data = toBinary(RequestsCompletedSchema, create(RequestsCompletedSchema, { meta, requests: [record] }));
        await js.publish(SUBJECTS.event('request.completed'), data, { msgID: meta.id, headers });
      }
    };
    await Promise.all(Array.from({ length: 256 }, lane));
    const published = performance.now();
    for (;;) {
      if (counter(await metricsOf(stack.urls.metrics!), 'batchgate_telemetry_events_total') - before >= FLOOD_EVENTS) break;
      if (performance.now() - started > 120_000) throw new Error('the recorder did not apply the flood within 2 minutes');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const applied = performance.now();
    return { publishPerS: FLOOD_EVENTS / ((published - started) / 1000), appliedPerS: FLOOD_EVENTS / ((applied - started) / 1000) };
  } finally {
    await bus.close();
    await stack.stop();
  }
}

const sink = await otlpSink();
let rows: Row[];
let recorder: { publishPerS: number; appliedPerS: number };
try {
  rows = [
    await measure('events off, tracing off', { BATCHGATE_EVENTS: 'off', OTEL_EXPORTER_OTLP_ENDPOINT: '' }, sink.bytes),
    await measure('events on, tracing off', { BATCHGATE_EVENTS: 'on', OTEL_EXPORTER_OTLP_ENDPOINT: '' }, sink.bytes),
    await measure(
      'events on, tracing on (10 % sampled)',
      {
        BATCHGATE_EVENTS: 'on',
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.1',
      },
      sink.bytes,
    ),
    await measure('events on, tracing on (all sampled)', { BATCHGATE_EVENTS: 'on', OTEL_EXPORTER_OTLP_ENDPOINT: sink.url }, sink.bytes),
  ];
  recorder = await flood();
} finally {
  await sink.stop();
}

console.log(
  `\nbatchgate telemetry benchmark: ${DURATION_S} s per run, 100 keys, 50 connections, origin ${ORIGIN_DELAY_MS} ms, ${cpus().length} cores shared by load generator and stack\n`,
);
const header = ['mode', 'RPS', 'p50 ms', 'p99 ms', 'errors', 'events/s recorded', 'OTLP KiB/s'];
const table = rows.map((r) => [
  r.mode,
  r.rps.toFixed(0),
  r.p50.toFixed(1),
  r.p99.toFixed(1),
  String(r.errors),
  r.eventsPerS.toFixed(0),
  r.otlpKiBPerS.toFixed(0),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
console.log(line(header));
for (const row of table) console.log(line(row));
console.log(
  `\nrecorder flood: ${FLOOD_EVENTS} acknowledged request.completed events, published at ${recorder.publishPerS.toFixed(0)}/s, applied by the recorder at ${recorder.appliedPerS.toFixed(0)}/s (first publish to last applied)`,
);
