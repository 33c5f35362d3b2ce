/**
 * Overload is an answer, not a reset: the gateway admits a bounded number of
 * open client connections and of requests in flight, and past either bound
 * answers 503 with a Retry-After taken from how fast requests have been
 * completing (the measured drain rate), so a shed client comes back about
 * when there is room. Pure: the caller passes the clock.
 */
export interface AdmissionLimits {
  maxConnections: number;
  maxInflight: number;
}

/** Retry-After bounds in seconds: 1 is the header's resolution, 30 keeps a client from giving up on a replica for long. */
const MIN_RETRY_S = 1;
const MAX_RETRY_S = 30;
/** Completions are counted per 250 ms bucket and smoothed over about 2 s, so one slow or fast moment does not swing the answer. */
const BUCKET_MS = 250;
const SMOOTHING = 0.125;

export class Admission {
  private connections = 0;
  private inflight = 0;
  private bucketStartMs: number;
  private bucketCompletions = 0;
  /** Completions per second, smoothed; undefined until the first full bucket. */
  private drainPerSecond: number | undefined;

  constructor(
    private readonly limits: AdmissionLimits,
    nowMs: number,
  ) {
    this.bucketStartMs = nowMs;
  }

  /** A client socket opened; false means it is over the budget and its requests get a 503 and connection: close. */
  connectionOpened(): boolean {
    this.connections++;
    return this.connections <= this.limits.maxConnections;
  }

  connectionClosed(): void {
    this.connections--;
  }

  /** A request arrived; false means it is shed (503) and must not call `completed`. */
  admit(nowMs: number): boolean {
    this.roll(nowMs);
    if (this.inflight >= this.limits.maxInflight) return false;
    this.inflight++;
    return true;
  }

  /** An admitted request finished (answered or abandoned by its client). */
  completed(nowMs: number): void {
    this.inflight--;
    this.roll(nowMs);
    this.bucketCompletions++;
  }

  /** Seconds until the requests in flight now have drained at the measured rate, within [1, 30]. */
  retryAfterSeconds(nowMs: number): number {
    this.roll(nowMs);
    const rate = this.drainPerSecond;
    // Nothing measured yet (just started): the shortest wait; measured but nothing completing: the longest.
    if (rate === undefined) return MIN_RETRY_S;
    if (rate <= 0) return this.inflight > 0 ? MAX_RETRY_S : MIN_RETRY_S;
    return Math.min(MAX_RETRY_S, Math.max(MIN_RETRY_S, Math.ceil(this.inflight / rate)));
  }

  get openConnections(): number {
    return this.connections;
  }

  get requestsInFlight(): number {
    return this.inflight;
  }

  /** Closes every finished bucket: the first holds the counted completions, any after it (a quiet gap) none. */
  private roll(nowMs: number): void {
    const buckets = Math.floor((nowMs - this.bucketStartMs) / BUCKET_MS);
    if (buckets < 1) return;
    const rate = (this.bucketCompletions * 1000) / BUCKET_MS;
    const first = this.drainPerSecond === undefined ? rate : this.drainPerSecond + SMOOTHING * (rate - this.drainPerSecond);
    this.drainPerSecond = first * (1 - SMOOTHING) ** (buckets - 1);
    this.bucketCompletions = 0;
    this.bucketStartMs += buckets * BUCKET_MS;
  }
}
