// Calling the origin: per-origin connection pools (undici), RFC 9110 header
// handling for a proxy (and the caller's W3C trace context in place of the
// client's), the clear 502/504 answers every waiter of a failed call gets,
// and the rules for when an answer may be shared across scopes.
export { forwardedRequestHeaders, stripHopByHop } from './headers.js';
export type { HeaderList } from './headers.js';
export { bodyPieces, isStreamed, OriginPool, STREAM_ABOVE_BYTES } from './origin-pool.js';
export type { BufferedResponse, StreamedResponse, TimedStream } from './origin-pool.js';
export { answerFrom } from './answer.js';
export type { ResultInit } from './answer.js';
export { errorAnswer, UpstreamError } from './errors.js';
export type { UpstreamErrorKind } from './errors.js';
export { isPrivateAnswer, responseVaryNames, varyValues } from './sharing.js';
export { withTraceContext } from './trace-context.js';
