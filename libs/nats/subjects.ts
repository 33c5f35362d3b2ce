/**
 * Every NATS subject, queue group, stream and bucket name, in one place.
 * Versioned by prefix so a v2 wire can run beside v1 during a rollout.
 */
export const SUBJECTS = {
  /** ingress -> coordinator owning the partition: open or join a slot (request/reply). */
  join: (partition: number) => `bg.v1.coord.join.${partition}`,
  /** ingress -> coordinator owning the partition: batched local waiter counts. */
  report: (partition: number) => `bg.v1.coord.report.${partition}`,
  /** coordinator -> policy queue group: one batched decision request per tick. */
  decide: 'bg.v1.policy.decide',
  /** coordinator -> worker queue group: one upstream call per flushed slot. */
  fetch: 'bg.v1.work.fetch',
  /** worker -> every coordinator: the slots this worker is calling the origin for (core NATS, periodic). */
  heartbeat: 'bg.v1.work.heartbeat',
  /** coordinator -> one worker whose heartbeats stopped: are you still there? (request/reply) */
  alive: (workerId: string) => `bg.v1.work.alive.${workerId}`,
  /** worker -> one ingress: the answer for its waiters. */
  result: (ingressId: string) => `bg.v1.ingress.${ingressId}.result`,
  /** coordinator -> one ingress: slots that were flushed (close them to new waiters). */
  closed: (ingressId: string) => `bg.v1.ingress.${ingressId}.closed`,
  /** Events on JetStream. */
  event: (type: EventType) => `events.${type}`,
  events: 'events.>',
} as const;

export const QUEUES = {
  policy: 'bg-policy',
  workers: 'bg-workers',
} as const;

export const EVENT_TYPES = [
  'slot.opened',
  'slot.joined',
  'slot.decided',
  'slot.flushed',
  'upstream.completed',
  'request.completed',
  'policy.changed',
  'model.published',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** Keys in the config bucket. */
export const CONFIG_KEYS = {
  /** JSON PolicyDocument: route table + default strategy (admin API writes it). */
  routes: 'policy.routes',
  /** JSON ModelPointer: which model in the models object store is live. */
  model: 'policy.model',
} as const;

export const JETSTREAM = {
  eventsStream: 'BATCHGATE_EVENTS',
  configBucket: 'batchgate_config',
  bodiesBucket: 'batchgate_bodies',
  modelsBucket: 'batchgate_models',
} as const;
