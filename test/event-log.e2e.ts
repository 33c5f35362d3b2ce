import { spawnSync } from 'node:child_process';
import {
  RequestPath,
  RequestsCompletedSchema,
  SlotFlushedSchema,
  UpstreamCompletedSchema,
  create,
  fromBinary,
  toBinary,
} from '#libs/contracts';
import { Bus, JETSTREAM, SUBJECTS, eventMeta } from '#libs/nats';
import { parseEpisodesJsonl } from '#libs/sim';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTelemetryConfig } from '../apps/telemetry/src/config.js';
import { episodesJsonl } from '../apps/telemetry/src/episodes.js';
import { arrivalsJsonl } from '../apps/telemetry/src/projections.js';
import { exportDiff, projectionDiff, rebuildProjection } from '../apps/telemetry/src/rebuild.js';
import { get, warm } from './support/client.js';
import { PATIENT_POLICY, TestFleet } from './support/fleet.js';
import { eventually, metricsOf, total } from './support/metrics.js';
import { ServiceProcess } from './support/service-process.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

interface StoredEvent {
  subject: string;
  id: string;
  data: Uint8Array;
}

/** Every message the events stream holds now, in order, read with a consumer of the test's own. */
async function eventLog(bus: Bus): Promise<StoredEvent[]> {
  const nc = bus.connection!;
  const lastSeq = (await (await jetstreamManager(nc)).streams.info(JETSTREAM.eventsStream)).state.last_seq;
  const events: StoredEvent[] = [];
  if (lastSeq === 0) return events;
  const messages = await (await jetstream(nc).consumers.get(JETSTREAM.eventsStream, { deliver_policy: DeliverPolicy.All })).consume();
  for await (const message of messages) {
    events.push({ subject: message.subject, id: message.headers?.get('Nats-Msg-Id') ?? '', data: message.data });
    if (message.seq >= lastSeq) break;
  }
  await messages.close();
  return events;
}

const requestRecords = (events: StoredEvent[]) =>
  events.filter((e) => e.subject === 'events.request.completed').flatMap((e) => fromBinary(RequestsCompletedSchema, e.data).requests);

describe('the event log is the source of truth', () => {
  let fleet: TestFleet;
  let recorder: ServiceProcess;
  let bus: Bus;

  beforeAll(async () => {
    fleet = await TestFleet.start({ originDelayMs: 20, env: { ...PATIENT_POLICY, BATCHGATE_BATCH_TIMEOUT_MS: '30' } });
    recorder = await ServiceProcess.start('telemetry', fleet.envOf('telemetry'), 'telemetry-e2e-1');
    bus = await Bus.connect({ url: fleet.nats.url, name: 'test-event-log', logger: quiet });
    await warm(fleet.ingressUrl(), 20);
  });

  afterAll(async () => {
    await recorder.stop();
    await bus.close();
    await fleet.stop();
  });

  it('a burst with the recorder SIGKILLed and restarted mid-way: every request in the events exactly once, the restarted and a rebuilt projection equal', async () => {
    let sent = 0;
    let failed = 0;
    let running = true;
    // 20 clients over 10 keys, back to back, until told to stop.
    const clients = Array.from({ length: 20 }, async (_, c) => {
      for (let i = 0; running; i++) {
        const reply = await get(`${fleet.ingressUrl()}/log/k${(c + i) % 10}?wave=${i}`);
        sent++;
        if (reply.status !== 200) failed++;
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 800));
    await recorder.kill();
    const killedAt = sent;
    await new Promise((resolve) => setTimeout(resolve, 300));
    recorder = await ServiceProcess.start('telemetry', fleet.envOf('telemetry'), 'telemetry-e2e-2');
    await new Promise((resolve) => setTimeout(resolve, 800));
    running = false;
    await Promise.all(clients);
    expect(failed).toBe(0);
    expect(killedAt).toBeGreaterThan(0);
    expect(sent).toBeGreaterThan(killedAt);

    // Every request is in the log once: request.completed reach the stream acknowledged (batched per ingress flush).
    await eventually(
      async () => requestRecords(await eventLog(bus)).length,
      (records) => records >= sent,
      15_000,
    );
    // A moment more, so a late duplicate would show.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const events = await eventLog(bus);
    expect(requestRecords(events)).toHaveLength(sent);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    expect(events.every((e) => e.id !== '')).toBe(true);

    // The restarted recorder lost and doubled nothing: its counts are the log's.
    const flushes = events.filter((e) => e.subject === 'events.slot.flushed').length;
    const upstreamCalls = events.filter((e) => e.subject === 'events.upstream.completed').length;
    const live = await eventually(
      () => metricsOf(recorder.url),
      (text) => total(text, 'batchgate_requests_total') === sent && total(text, 'batch_flush_total') === flushes,
    );
    expect(total(live, 'batchgate_upstream_calls_total')).toBe(upstreamCalls);
    expect(total(live, 'batchgate_telemetry_events_skipped_total', { reason: 'duplicate' })).toBe(0);

    // The restarted recorder's episodes: one per flushed slot, none twice (its own consumer, so waited for on its own).
    const flushedSlots = events.filter((e) => e.subject === 'events.slot.flushed').map((e) => fromBinary(SlotFlushedSchema, e.data).slotId);
    const liveEpisodes = await eventually(
      async () => parseEpisodesJsonl((await get(`${recorder.url}/export/episodes.jsonl`)).body),
      (episodes) => episodes.length === flushedSlots.length,
    );
    expect(liveEpisodes.map((e) => e.slot_id).sort()).toEqual([...flushedSlots].sort());
    expect(liveEpisodes.some((e) => e.decisions.length > 0 && e.upstream !== undefined)).toBe(true);

    // npm run telemetry:rebuild's replay into fresh projections equals the live ones: metrics, arrival traces, episodes.
    const config = loadTelemetryConfig(fleet.envOf('telemetry'));
    const rebuilt = await rebuildProjection(bus.connection!, {
      arrivalsKept: config.arrivalsKept,
      envelope: config.envelope,
      episodesKept: config.episodesKept,
    });
    expect(rebuilt.outcomes.duplicate).toBe(0);
    expect(projectionDiff(live, await rebuilt.registry.metrics())).toEqual([]);
    // One arrival per request that took a slot (not passed through or shed), none lost or doubled by the restart.
    const liveArrivals = (await get(`${recorder.url}/export/arrivals.jsonl`)).body;
    const slotted = requestRecords(events).filter((r) => r.path !== RequestPath.PASSTHROUGH && r.path !== RequestPath.SHED);
    expect(slotted.length).toBeGreaterThan(0);
    expect(liveArrivals.split('\n').filter(Boolean)).toHaveLength(Math.min(slotted.length, config.arrivalsKept));
    expect(exportDiff('arrivals', liveArrivals, arrivalsJsonl(rebuilt.projection))).toEqual([]);
    expect(exportDiff('episodes', (await get(`${recorder.url}/export/episodes.jsonl`)).body, episodesJsonl(rebuilt.episodes))).toEqual([]);

    // And the command itself: --compare checks all three against the live recorder and exits 0.
    const run = spawnSync(process.execPath, ['dist/tools/telemetry/main.js', '--quiet', '--compare', recorder.url], {
      encoding: 'utf8',
      env: { ...process.env, ...fleet.envOf('telemetry') },
    });
    expect(run.stderr).toContain('equal');
    expect(run.status).toBe(0);
  });

  it('NATS restarted mid-burst: the requests answered while it was down still reach the log, once each', async () => {
    const before = requestRecords(await eventLog(bus)).length;
    let sent = 0;
    let running = true;
    const clients = Array.from({ length: 10 }, async (_, c) => {
      for (let i = 0; running; i++) {
        await get(`${fleet.ingressUrl()}/log2/k${(c + i) % 5}?wave=${i}`);
        sent++;
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await fleet.nats.stop();
    const atStop = sent;
    await new Promise((resolve) => setTimeout(resolve, 600));
    const duringOutage = sent - atStop;
    await fleet.nats.start();
    await new Promise((resolve) => setTimeout(resolve, 800));
    running = false;
    await Promise.all(clients);
    // Answered locally while NATS was down (the ingress degrades), and recorded then.
    expect(duringOutage).toBeGreaterThan(0);
    await eventually(
      async () => requestRecords(await eventLog(bus)).length,
      (records) => records >= before + sent,
      15_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const events = await eventLog(bus);
    expect(requestRecords(events).length - before).toBe(sent);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  });

  it("a latency event published again with its id (a retry after a lost ack): the stream keeps one, the coordinator's features count one", async () => {
    const duplicates = async () => total(await metricsOf(fleet.coordinatorUrl()), 'batchgate_coordinator_duplicate_events_total');
    const before = await duplicates();
    const meta = eventMeta('test/retry');
    const data = toBinary(UpstreamCompletedSchema, create(UpstreamCompletedSchema, { meta, slotId: 'retried', status: 200, latencyMs: 5 }));
    const js = jetstream(bus.connection!);
    const acks = [];
    for (let attempt = 0; attempt < 2; attempt++)
      acks.push(await js.publish(SUBJECTS.event('upstream.completed'), data, { msgID: meta.id }));
    expect(acks.map((ack) => ack.duplicate)).toEqual([false, true]);
    await eventually(duplicates, (n) => n === before + 1);
    expect((await eventLog(bus)).filter((e) => e.id === meta.id)).toHaveLength(1);
  });
});
