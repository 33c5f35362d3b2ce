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
  /** worker -> one ingress: the pieces of a streamed result's body, in order after the result. */
  body: (ingressId: string) => `bg.v1.ingress.${ingressId}.body`,
  /** coordinator -> one ingress: slots that were flushed (close them to new waiters). */
  closed: (ingressId: string) => `bg.v1.ingress.${ingressId}.closed`,
  /** ingress -> coordinator owning hash(model)'s partition: one inference request (request/reply). */
  inferSubmit: (partition: number) => `bg.v1.coord.infer.${partition}`,
  /** ingress -> coordinator owning the partition: these inference items' clients left. */
  inferCancel: (partition: number) => `bg.v1.coord.infer-cancel.${partition}`,
  /** coordinator -> every ingress: it took a partition; items a lost coordinator held for it will never be answered. */
  inferOwner: 'bg.v1.coord.infer-owner',
  /** worker -> the coordinator that dispatched the batch: the backend's answer. */
  inferDone: (coordinatorId: string) => `bg.v1.coord.${coordinatorId}.infer-done`,
  /** coordinator -> worker queue group: one inference backend call. */
  infer: 'bg.v1.work.infer',
  /** coordinator -> the worker running a batch: every waiter of it left. */
  inferBatchCancel: (workerId: string) => `bg.v1.work.infer-cancel.${workerId}`,
  /** coordinator -> one ingress: results of its inference items. */
  inferResults: (ingressId: string) => `bg.v1.ingress.${ingressId}.infer`,
  /** worker -> one ingress: server-sent events of a streamed item. */
  inferChunk: (ingressId: string) => `bg.v1.ingress.${ingressId}.infer-chunk`,
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
  'batch.flushed',
  'inference.completed',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** Keys in the config bucket. */
export const CONFIG_KEYS = {
  /** JSON PolicyDocument: route table + default strategy (admin API writes it). */
  routes: 'policy.routes',
  /** JSON ModelPointer: which model in the models object store is live. */
  model: 'policy.model',
  /**
   * JSON ModelVerdictRecord (apps/policy/src/verdict-records.ts) of one model, by its hex SHA-256: the promotion gate
   * refused it, or it was dropped for NaN in shadow. Every policy replica skips a pointer to such a model, at start
   * and on every pointer revision; deleting the key clears the refusal.
   */
  verdict: (sha256: string) => `policy.verdict.${sha256}`,
  /** JSON strategy switches of Flow B (POST /admin/strategy/{name} on a coordinator): default and per model. */
  inferenceStrategies: 'inference.strategies',
} as const;

export const JETSTREAM = {
  eventsStream: 'BATCHGATE_EVENTS',
  configBucket: 'batchgate_config',
  bodiesBucket: 'batchgate_bodies',
  modelsBucket: 'batchgate_models',
} as const;

/**
 * A service's reply-inbox prefix ("_INBOX_ingress"): replies to its requests, JetStream acks and API replies,
 * KV and Object Store deliveries all arrive under it, so deploy/nats/nats.conf lets each service user subscribe
 * to `_INBOX_<service>.>` only and no service can read another's replies. Tools keep nats.js's "_INBOX".
 */
export function inboxPrefixOf(service: string): string {
  if (!/^[a-z][a-z0-9-]*$/.test(service)) throw new Error(`service name "${service}" cannot name an inbox prefix`);
  return `_INBOX_${service}`;
}
