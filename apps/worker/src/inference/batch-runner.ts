import type { Context } from '@opentelemetry/api';
import type { InferBatch, InferTarget, MessageInitShape } from '#libs/contracts';
import type { InferChunkSchema } from '#libs/contracts';
import { priorityName } from '#libs/inference';
import { linksTo, tracingRecords } from '#libs/tracing';
import { callBudgetMs } from '../task-budget.js';
import type { BackendRequest, JsonObject } from './backend-request.js';
import { BatchShapeError, backendRequestOf, choicesPerPrompt, isIdempotent } from './backend-request.js';
import type { Backend, BackendPool, CallOptions } from './backends.js';
import { BackendFailure, CallCancelled } from './backends.js';
import type { InferenceConfig } from './config.js';
import type { CallOutcome, InferenceMetrics } from './metrics.js';
import { kindLabel } from './metrics.js';
import type { Output } from './split-answer.js';
import { failedOutputs, splitAnswer } from './split-answer.js';
import type { StreamState } from './stream-relay.js';
import { relayStream } from './stream-relay.js';

export type ChunkInit = MessageInitShape<typeof InferChunkSchema>;

/** What a batch came to: the InferBatchResult fields the worker fills in. */
export interface BatchOutcome {
  status: number;
  error: string;
  outputs: Output[];
  backend: string;
  backendMs: number;
  calls: number;
  responseId: string;
  createdS: number;
  responseModel: string;
}

function failed(batch: InferBatch, status: number, error: string, calls = 0, backend = ''): BatchOutcome {
  return {
    status,
    error,
    outputs: failedOutputs(batch.inputs.length, status, error),
    backend,
    backendMs: 0,
    calls,
    responseId: '',
    createdS: 0,
    responseModel: '',
  };
}

/** The message of an OpenAI error body ({"error": {"message"}}), or the start of whatever came back. */
async function errorText(body: { text(): Promise<string> }): Promise<string> {
  const text = await body.text().catch(() => '');
  try {
    const parsed = JSON.parse(text) as { error?: { message?: string } | string; message?: string };
    const message = typeof parsed.error === 'string' ? parsed.error : (parsed.error?.message ?? parsed.message);
    if (message) return message;
  } catch {
    // not JSON
  }
  return text.slice(0, 200) || 'no body';
}

/**
 * Runs one batch against the backends: expired before the call -> 504 with no
 * call; otherwise the balancer's pick, and for an idempotent batch further
 * attempts on backends not tried yet while the deadline allows. A 4xx answer
 * is final (the same request fails the same way anywhere).
 */
export class BatchRunner {
  constructor(
    private readonly pool: BackendPool,
    private readonly config: InferenceConfig,
    private readonly metrics: InferenceMetrics,
    /** `ctx`: the batch's trace context, which a stream's last chunk travels in. */
    private readonly sendChunk: (target: InferTarget, chunk: ChunkInit, ctx: Context) => void,
  ) {}

  /**
   * Runs the batch; a streamed batch that failed gets a last chunk with the
   * error, so its clients are not left open. Every backend call links to the
   * client requests the batch answers (their traceparents travel in it).
   */
  async run(batch: InferBatch, signal: AbortSignal, ctx: Context): Promise<BatchOutcome> {
    const stream: StreamState = { sentAny: false, seq: 0 };
    const links = tracingRecords() ? linksTo(batch.requestTraceparents) : undefined;
    const outcome = await this.attempts(batch, { signal, ctx, links, priority: priorityName(batch.priority) }, stream);
    if (batch.stream && outcome.status !== 200) {
      for (const target of batch.streamTargets)
        this.sendChunk(target, { itemId: target.itemId, seq: stream.seq, done: true, status: outcome.status, error: outcome.error }, ctx);
    }
    return outcome;
  }

  private async attempts(batch: InferBatch, call: Omit<CallOptions, 'budgetMs'>, stream: StreamState): Promise<BatchOutcome> {
    let request: BackendRequest;
    try {
      request = backendRequestOf(batch);
    } catch (error) {
      if (error instanceof BatchShapeError) return failed(batch, 400, error.message);
      throw error;
    }
    const idempotent = isIdempotent(batch.kind, request.body);
    const attempts = idempotent ? 1 + this.config.inferenceRetries : 1;
    const tried = new Set<number>();
    let last: BatchOutcome | undefined;
    let calls = 0;
    while (calls < attempts) {
      const budget = callBudgetMs(batch.deadlineAtMs, Date.now(), this.config.inferenceTimeoutMs);
      if (budget === 'expired') return last ?? failed(batch, 504, 'expired', calls);
      const backend = this.pool.pick(tried);
      if (!backend) break;
      tried.add(backend.index);
      if (calls > 0) this.metrics.retries.inc({ kind: kindLabel(batch.kind) });
      calls++;
      const started = performance.now();
      try {
        const outcome = await this.attempt(batch, request, backend, { ...call, budgetMs: budget }, stream);
        this.observe(batch, backend, started, outcome.status === 200 ? 'ok' : 'error_status');
        return { ...outcome, calls };
      } catch (error) {
        if (error instanceof CallCancelled) {
          this.observe(batch, backend, started, 'cancelled');
          return failed(batch, 499, 'cancelled', calls, backend.url);
        }
        if (!(error instanceof BackendFailure)) throw error;
        const open = error.status === 503 && !error.breaks;
        if (open) calls--;
        this.observe(batch, backend, started, open ? 'circuit_open' : error.status === 504 ? 'timeout' : 'failure');
        last = failed(batch, error.status, error.message, calls, backend.url);
        // A stream that already reached its clients cannot start again elsewhere.
        if (!error.retryable || stream.sentAny) break;
      }
    }
    return last ?? failed(batch, 503, 'no inference backend can take the batch: every circuit is open', calls);
  }

  private observe(batch: InferBatch, backend: Backend, started: number, outcome: CallOutcome): void {
    this.metrics.calls.inc({ backend: backend.url, outcome });
    if (outcome !== 'circuit_open')
      this.metrics.latency.observe({ backend: backend.url, kind: kindLabel(batch.kind) }, (performance.now() - started) / 1000);
  }

  private async attempt(
    batch: InferBatch,
    request: BackendRequest,
    backend: Backend,
    options: CallOptions,
    stream: StreamState,
  ): Promise<BatchOutcome> {
    const started = performance.now();
    return this.pool.call(backend, request.path, request.body, options, async (status, body) => {
      if (status >= 500 || status === 429) throw new BackendFailure(status, `backend answered ${status}: ${await errorText(body)}`, true);
      if (status !== 200) {
        const outcome = failed(batch, status, await errorText(body), 1, backend.url);
        return outcome;
      }
      if (batch.stream) {
        const final = await relayStream(batch, body, stream, (chunk) => {
          for (const target of batch.streamTargets) this.sendChunk(target, { ...chunk, itemId: target.itemId, status: 200 }, options.ctx);
        });
        return this.answered(batch, backend, started, final, request.body);
      }
      return this.answered(batch, backend, started, await body.json(), request.body);
    });
  }

  private answered(batch: InferBatch, backend: Backend, started: number, answer: unknown, body: JsonObject): BatchOutcome {
    const meta = (answer ?? {}) as { id?: unknown; created?: unknown; model?: unknown };
    const estimates = batch.inputs.map((input) => input.promptTokens);
    return {
      status: 200,
      error: '',
      outputs: splitAnswer(batch.kind, answer, estimates, choicesPerPrompt(body)),
      backend: backend.url,
      backendMs: performance.now() - started,
      calls: 1,
      responseId: typeof meta.id === 'string' ? meta.id : '',
      createdS: typeof meta.created === 'number' ? meta.created : 0,
      responseModel: typeof meta.model === 'string' ? meta.model : batch.model,
    };
  }
}
