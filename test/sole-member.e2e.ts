import type { FetchTask, UpstreamCompleted } from '#libs/contracts';
import { FetchTaskSchema, UpstreamCompletedSchema } from '#libs/contracts';
import { Bus, SUBJECTS } from '#libs/nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burst, get, warm } from './support/client.js';
import { FlushWatch } from './support/events.js';
import { PATIENT_POLICY, TestFleet } from './support/fleet.js';

// Every service shares the test process's event loop: never judged too busy to make the call.
const ALWAYS = { BATCHGATE_SOLE_CALL_MAX_BUSY: '1' };

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** A bus that sees every FetchTask the coordinators send and every upstream.completed event. */
async function watchTasks(natsUrl: string): Promise<{ bus: Bus; tasks: FetchTask[]; upstream: UpstreamCompleted[] }> {
  const bus = await Bus.connect({ url: natsUrl, name: 'task-watch', logger: quiet });
  const tasks: FetchTask[] = [];
  const upstream: UpstreamCompleted[] = [];
  bus.subscribe(SUBJECTS.fetch, FetchTaskSchema, (task) => void tasks.push(task));
  bus.subscribe(SUBJECTS.event('upstream.completed'), UpstreamCompletedSchema, (event) => void upstream.push(event));
  await bus.connection?.flush();
  return { bus, tasks, upstream };
}

const metric = async (url: string, pattern: RegExp): Promise<number> => Number(pattern.exec((await get(`${url}/metrics`)).body)?.[1] ?? 0);

// The common slot has one member ingress: it makes the one upstream call
// itself when the coordinator flushes, instead of a worker calling and
// publishing the answer back.
describe('a slot whose waiters are all on one ingress', () => {
  let fleet: TestFleet;
  let watch: Awaited<ReturnType<typeof watchTasks>>;
  let flushes: FlushWatch;

  beforeAll(async () => {
    // No worker at all: a slot that needed one would be orphaned (answered by the fallback path).
    fleet = await TestFleet.start({
      ingresses: 1,
      workers: 0,
      env: { ...PATIENT_POLICY, BATCHGATE_BATCH_TIMEOUT_MS: '200', ...ALWAYS },
      originDelayMs: 20,
    });
    [watch, flushes] = await Promise.all([watchTasks(fleet.nats.url), FlushWatch.start(fleet.nats.url)]);
    await warm(fleet.ingressUrl(), 50);
  });

  afterAll(async () => {
    await Promise.all([watch.bus.close(), flushes.close()]);
    await fleet.stop();
  });

  it('is called once by the ingress itself, with no worker task, answered as coalesced and recorded like a worker call', async () => {
    const replies = await burst(`${fleet.ingressUrl()}/sole/one`, 50);
    expect(fleet.origin.callsTo('/sole/one')).toHaveLength(1);
    expect(replies.every((r) => r.status === 200 && r.headers['x-batchgate'] === 'coalesced')).toBe(true);
    expect(new Set(replies.map((r) => r.body)).size).toBe(1);
    expect(watch.tasks.filter((task) => task.request?.path === '/sole/one')).toEqual([]);
    const [flushed] = await flushes.waitFor(1);
    expect(flushed).toMatchObject({ size: 50, members: 1 });
    // One upstream.completed for the one call, under the slot's id, naming the fleet's upstream as workers do ("").
    await new Promise((resolve) => setTimeout(resolve, 100));
    const completed = watch.upstream.filter((event) => event.slotId === flushed!.slotId);
    expect(completed).toHaveLength(1);
    expect(completed[0]).toMatchObject({ status: 200, origin: '' });
    expect(completed[0]!.meta?.source).toMatch(/^ingress\//);
    expect(await metric(fleet.ingressOpsUrl(), /batchgate_ingress_fallback_total\{reason="orphaned"\} (\d+)/)).toBe(0);
  });

  it('makes one call per slot for many keys, none through a worker', async () => {
    const keys = Array.from({ length: 10 }, (_, k) => `/sole/many/${k}`);
    const replies = await Promise.all(keys.flatMap((path) => Array.from({ length: 5 }, () => get(`${fleet.ingressUrl()}${path}`))));
    expect(replies.every((r) => r.status === 200 && r.headers['x-batchgate'] === 'coalesced')).toBe(true);
    for (const path of keys) expect(fleet.origin.callsTo(path)).toHaveLength(1);
    expect(watch.tasks).toEqual([]);
  });
});

describe('a slot with waiters on two ingresses', () => {
  let fleet: TestFleet;
  let watch: Awaited<ReturnType<typeof watchTasks>>;

  beforeAll(async () => {
    fleet = await TestFleet.start({
      ingresses: 2,
      workers: 1,
      env: { ...PATIENT_POLICY, BATCHGATE_BATCH_TIMEOUT_MS: '300' },
      originDelayMs: 20,
    });
    watch = await watchTasks(fleet.nats.url);
    await Promise.all([warm(fleet.ingressUrl(0), 25), warm(fleet.ingressUrl(1), 25)]);
  });

  afterAll(async () => {
    await watch.bus.close();
    await fleet.stop();
  });

  it('still shares one upstream call, made by a worker for both members', async () => {
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => get(`${fleet.ingressUrl(i % 2)}/sole/shared`)));
    expect(replies.every((r) => r.status === 200 && r.headers['x-batchgate'] === 'coalesced')).toBe(true);
    expect(fleet.origin.callsTo('/sole/shared')).toHaveLength(1);
    const tasks = watch.tasks.filter((task) => task.request?.path === '/sole/shared');
    expect(tasks).toHaveLength(1);
    expect([...tasks[0]!.members].sort()).toEqual(['ingress-0', 'ingress-1']);
  });
});
