import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InferChunk, InferItemResult } from '#libs/contracts';
import { InferKind } from '#libs/contracts';
import { dedupKeyOf, partitionOfModel, priorityName } from '#libs/inference';
import { Priority } from '#libs/contracts';
import type { Logger } from '#libs/tracing';
import { endHttpSpan, nameServerSpanAfter, startServerSpan, traceparentOf, tracerFor } from '#libs/tracing';
import type { Span, SpanContext } from '@opentelemetry/api';
import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { hopOf } from '../proxy.route.js';
import type { IngressConfig } from '../config.js';
import { estimateInputTokens } from './token-estimate.js';
import type { InferLink, ItemWaiter } from './infer-link.js';
import type { InferenceMetrics } from './inference-metrics.js';
import { answerOf, failureOf } from './openai-answer.js';
import type { InferRequest } from './openai-request.js';
import { INFERENCE_PATHS, OpenAiRequestError, parseDeadlineMs, parseInferRequest } from './openai-request.js';
import { readJsonBody } from './read-body.js';
import { StreamMerge } from './stream-merge.js';
import { tenantOf, TenantQueues } from './tenant-queue.js';

/** Past its deadline the coordinator answers 504; this much later the ingress answers it alone (the coordinator is gone). */
const ANSWER_GRACE_MS = 1000;

const encoder = new TextEncoder();
const tracer = tracerFor('ingress');

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return void res.end();
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, error: OpenAiRequestError, headers: Record<string, string> = {}): void {
  sendJson(res, error.status, error.body(), headers);
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * POST /v1/embeddings, /v1/completions and /v1/chat/completions on the
 * gateway port (OpenAI shapes): validates at the edge, splits the request
 * into items, submits them to the coordinator of hash(model)'s partition and
 * answers the client with exactly its own items, or relays SSE chunks.
 */
export class InferenceFront {
  private draining = false;
  private readonly models: Set<string>;
  private readonly tenants: TenantQueues;

  constructor(
    private readonly config: IngressConfig,
    private readonly link: InferLink,
    private readonly metrics: InferenceMetrics,
    private readonly logger: Logger,
  ) {
    this.models = new Set(config.inference.models);
    this.tenants = new TenantQueues(config.inference.tenantQueue);
  }

  /** POST to one of the three paths (query ignored), decided before any pass-through. */
  kindOf(req: IncomingMessage): InferKind | undefined {
    if (req.method !== 'POST') return undefined;
    const path = (req.url ?? '').split('?')[0]!;
    return Object.hasOwn(INFERENCE_PATHS, path) ? INFERENCE_PATHS[path] : undefined;
  }

  /** Shutting down: new inference requests get 503; those already accepted are answered. */
  drain(): void {
    this.draining = true;
  }

  get pending(): number {
    return this.link.pending;
  }

  /**
   * Serves one request inside its SERVER span ("POST /v1/embeddings"), which
   * ends when the response does: its NATS submit is the span's child, and
   * the backend call that answers it links to it.
   */
  handle(kind: InferKind, req: IncomingMessage, res: ServerResponse): void {
    const hop = hopOf(req);
    const target = req.url ?? '/';
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = startServerSpan(tracer, { method: 'POST', target, scheme: hop.protocol, host: hop.host }, parent);
    if (span.isRecording()) nameServerSpanAfter(span, 'POST', target.split('?')[0]!);
    // A client gone before any answer leaves no status to record; the span still ends.
    res.once('close', () => (res.headersSent ? endHttpSpan(span, res.statusCode, 'server') : span.end()));
    context.with(trace.setSpan(parent, span), () => this.admit(kind, req, res, span));
  }

  private admit(kind: InferKind, req: IncomingMessage, res: ServerResponse, span: Span): void {
    const arrivedAtMs = Date.now();
    if (this.draining) {
      this.metrics.rejected.inc({ reason: 'shutting_down' });
      req.resume();
      return sendError(
        res,
        new OpenAiRequestError(503, 'the gateway is shutting down; retry on another replica', null, 'shutting_down', 'server_error'),
        {
          'retry-after': '1',
          connection: 'close',
        },
      );
    }
    readJsonBody(req, this.config.maxBodyBytes).then(
      (body) => this.serve(kind, req, res, body, arrivedAtMs, span),
      (error: unknown) =>
        sendError(
          res,
          error instanceof OpenAiRequestError ? error : new OpenAiRequestError(400, 'the request body could not be read', null, null),
        ),
    );
  }

  private serve(kind: InferKind, req: IncomingMessage, res: ServerResponse, body: unknown, arrivedAtMs: number, span: Span): void {
    let request: InferRequest;
    let deadlineMs: number;
    try {
      request = parseInferRequest(kind, body, header(req, 'x-batchgate-priority'));
      deadlineMs = parseDeadlineMs(header(req, 'x-batchgate-deadline-ms')) ?? this.config.requestTimeoutMs;
      if (!this.models.has(request.model)) {
        throw new OpenAiRequestError(
          404,
          `The model \`${request.model}\` does not exist or you do not have access to it.`,
          'model',
          'model_not_found',
        );
      }
    } catch (error) {
      if (!(error instanceof OpenAiRequestError)) throw error;
      this.metrics.rejected.inc({ reason: error.status === 404 ? 'unknown_model' : 'bad_request' });
      return sendError(res, error);
    }
    const tenant = tenantOf(request.user, header(req, 'authorization'));
    const admitted = this.tenants.admit(tenant, request.inputs.length, arrivedAtMs);
    if (!admitted.ok) {
      this.metrics.rejected.inc({ reason: 'tenant_queue_full' });
      return sendError(
        res,
        new OpenAiRequestError(
          429,
          `too many requests waiting for this tenant; retry after ${admitted.retryAfterS} s`,
          null,
          'queue_full',
          'rate_limit_exceeded',
        ),
        {
          'retry-after': String(admitted.retryAfterS),
        },
      );
    }
    void this.run(request, tenant, res, arrivedAtMs, arrivedAtMs + deadlineMs, span);
  }

  private async run(
    request: InferRequest,
    tenant: string,
    res: ServerResponse,
    arrivedAtMs: number,
    deadlineAtMs: number,
    span: Span,
  ): Promise<void> {
    const requestId = randomUUID();
    const priority = request.priority ?? Priority.NORMAL;
    const partition = partitionOfModel(request.model, this.config.partitions);
    const items = request.inputs.map((input, index) => {
      // `user` names the tenant, not the answer: two tenants' identical chat requests may share one call.
      const keyed = request.kind === InferKind.CHAT ? { ...(input as Record<string, unknown>), user: undefined } : input;
      return {
        itemId: `${requestId}.${index}`,
        ingressId: this.link.ingressId,
        index,
        inputJson: encoder.encode(JSON.stringify(input)),
        promptTokens: estimateInputTokens(input),
        deadlineAtMs,
        dedupKey: dedupKeyOf(request.kind, request.model, request.params, keyed),
      };
    });
    const ids = items.map((i) => i.itemId);
    const results = new Map<string, InferItemResult>();
    let finished = false;
    let streaming = false;
    const finish = () => {
      if (finished) return false;
      finished = true;
      clearTimeout(timer);
      this.link.forget(ids);
      this.tenants.release(tenant, ids.length, Date.now());
      this.metrics.latency.observe({ priority: priorityName(priority), kind: String(request.kind) }, (Date.now() - arrivedAtMs) / 1000);
      return true;
    };
    const fail = (error: OpenAiRequestError, headers?: Record<string, string>) => {
      if (!finish()) return;
      // Mid-stream, the failure is an `error` event (what OpenAI's clients raise) and the end, with no [DONE].
      if (streaming) res.end(`data: ${JSON.stringify(error.body())}\n\n`);
      else sendError(res, error, headers);
    };
    const timer = setTimeout(
      () => {
        this.link.cancel(partition, ids);
        fail(new OpenAiRequestError(504, 'no answer before the request deadline', null, 'timeout', 'server_error'));
      },
      Math.max(1, deadlineAtMs - Date.now() + ANSWER_GRACE_MS),
    );
    res.once('close', () => {
      if (finished) return;
      // The client left: its items stop waiting (and their batch stops, once it has no waiter).
      this.link.cancel(partition, ids);
      finish();
    });
    const linkTo = linker(span);
    const merge = new StreamMerge(ids.length, request.n);
    const waiters = new Map<string, ItemWaiter>();
    for (const [item, id] of ids.entries()) {
      waiters.set(id, {
        result: (result, sent) => {
          if (finished) return;
          linkTo(sent);
          if (request.stream) {
            // A streamed item's success is its chunks; one failed item (of a prompt array) ends the whole stream now.
            const failure = failureOf([result]);
            return failure ? fail(failure, failure.status === 503 ? { 'retry-after': '1' } : undefined) : undefined;
          }
          results.set(id, result);
          if (results.size < ids.length) return;
          const ordered = ids.map((i) => results.get(i)!);
          const failure = failureOf(ordered);
          // A 503 (coordinator or worker gone, shutting down) is worth retrying soon, on another owner.
          if (failure) return fail(failure, failure.status === 503 ? { 'retry-after': '1' } : undefined);
          if (!finish()) return;
          sendJson(res, 200, answerOf(request, ordered));
        },
        ...(request.stream
          ? {
              chunk: (chunk: InferChunk, sent: SpanContext | undefined) => {
                linkTo(sent);
                this.relay(chunk, item, merge, res, () => (streaming = true), finish, fail);
              },
            }
          : {}),
      });
    }
    const outcome = await this.link.submit(
      partition,
      {
        requestId,
        tenant,
        kind: request.kind,
        model: request.model,
        priority,
        paramsJson: encoder.encode(request.paramsJson),
        items,
        submittedAtMs: arrivedAtMs,
        maxTokens: request.maxTokens,
        stream: request.stream,
        traceparent: traceparentOf(trace.setSpan(ROOT_CONTEXT, span)),
      },
      waiters,
    );
    if (outcome.ok) return;
    this.metrics.rejected.inc({ reason: outcome.reason });
    if (outcome.reason.startsWith('coordinator_'))
      this.logger.warn({ reason: outcome.reason, model: request.model, partition }, 'inference submit failed');
    const status = outcome.reason === 'queue_full' ? 429 : 503;
    fail(
      new OpenAiRequestError(
        status,
        `the batching coordinator refused the request (${outcome.reason})`,
        null,
        outcome.reason,
        status === 429 ? 'rate_limit_exceeded' : 'server_error',
      ),
      {
        'retry-after': String(Math.max(1, Math.ceil(outcome.retryAfterS))),
      },
    );
  }

  /**
   * One SSE event of item `item` as the backend produced it (indices made the
   * request's by `merge`); the last item's last event ends the stream with
   * `data: [DONE]`. A failure after the stream started is an `error` event
   * (what OpenAI's clients raise) and the end of the stream, with no [DONE].
   */
  private relay(
    chunk: InferChunk,
    item: number,
    merge: StreamMerge,
    res: ServerResponse,
    started: () => void,
    finish: () => boolean,
    fail: (e: OpenAiRequestError) => void,
  ): void {
    if (chunk.error !== '') {
      return fail(new OpenAiRequestError(chunk.status >= 400 ? chunk.status : 502, chunk.error, null, null, 'server_error'));
    }
    if (!res.headersSent) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      res.flushHeaders();
      started();
    }
    if (chunk.data.length > 0) {
      const data = merge.event(item, Buffer.from(chunk.data).toString('utf8'));
      if (data !== undefined) res.write(`data: ${data}\n\n`);
    }
    if (chunk.done && merge.done(item) && finish()) {
      for (const data of merge.tail()) res.write(`data: ${data}\n\n`);
      res.end('data: [DONE]\n\n');
    }
  }
}

/**
 * Links the client's span to each trace its answers travelled in (the batch's
 * backend call), once per span: every client trace shows the call that
 * answered it, even one whose item joined a batch already in flight. Its own
 * trace (the batch it opened) needs no link.
 */
function linker(span: Span): (sent: SpanContext | undefined) => void {
  const linked = new Set<string>();
  return (sent) => {
    if (!sent || !span.isRecording() || sent.traceId === span.spanContext().traceId || linked.has(sent.spanId)) return;
    linked.add(sent.spanId);
    span.addLink({ context: sent });
  };
}
