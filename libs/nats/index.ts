// NATS: the typed bus every service talks through (protobuf payloads, W3C
// trace context in headers), subject names in one place, JetStream
// provisioning and the non-blocking event publisher.
export { Bus, BusUnavailableError, NoRespondersError, RequestTimeoutError, requestFailure } from './bus.js';
export type { BusLogger, BusOptions, DecodedHandler, Decoder, Handler, Incoming, RequestFailure } from './bus.js';
export { EVENT_SCHEMA_HEADER, EventPublisher, eventMeta, provisionJetStream } from './jetstream.js';
export { LargeMessages, LargeMessageUnavailableError, payloadLimit } from './large-message.js';
export { ACKED_EVENT_TYPES, AckedEvents, retryDelayMs } from './acked-events.js';
export { RecentIds } from './recent-ids.js';
export type { JetStreamHandles, ProvisionOptions } from './jetstream.js';
export { CONFIG_KEYS, EVENT_TYPES, inboxPrefixOf, JETSTREAM, QUEUES, SUBJECTS } from './subjects.js';
export type { EventType } from './subjects.js';
export { contextFromHeaders, traceHeaders } from './trace-headers.js';
