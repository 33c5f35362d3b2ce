import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import { Priority } from '#libs/contracts';
import { parsePriority } from '#libs/inference';
import { stream as randomStream } from '#libs/sim';
import type { Random } from '#libs/sim';
import { answerOf, streamEvents, streamPieces } from './answers.js';
import type { BackendConfig } from './config.js';
import type { Endpoint, ParsedCall } from './requests.js';
import { ApiError, MODELS, parseCall } from './requests.js';
import { callFails, serviceTimeMs } from './service-time.js';
import { Slots } from './slots.js';

const ENDPOINTS: Record<string, Endpoint> = {
  '/v1/embeddings': 'embeddings',
  '/v1/completions': 'completions',
  '/v1/chat/completions': 'chat',
};

/** What reached the backend, for GET /stats: anyone can count calls, items and tokens here. */
export interface BackendStats {
  /** Inference calls that passed validation (failed and aborted ones included). */
  calls: number;
  /** Inputs in those calls (embedding inputs, prompts, chat requests). */
  items: number;
  /** Prompt + completion tokens of those calls. */
  tokens: number;
  /** Calls answered with an injected failure (failure rate or /admin/fail). */
  failed: number;
  /** Calls whose client disconnected before the answer was complete. */
  aborted: number;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new Error('client left'));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', stop);
      resolve();
    }, ms);
    const stop = () => {
      clearTimeout(timer);
      reject(new Error('client left'));
    };
    signal.addEventListener('abort', stop, { once: true });
  });

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ApiError(413, `the body is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new ApiError(400, 'the body is not valid JSON');
  }
}

/**
 * The simulated OpenAI-compatible backend: validates a call, waits for one of
 * its `concurrency` slots (by priority with aging, Slots), sleeps the Go mock's service time (streamed answers
 * spread their events over it), then answers. Failures are injected by the
 * failure rate or POST /admin/fail.
 */
export class SimulatedBackend {
  readonly stats: BackendStats = { calls: 0, items: 0, tokens: 0, failed: 0, aborted: 0 };
  private readonly slots: Slots;
  private readonly random: Random;
  private failingUntilMs = 0;
  private failStatus = 503;
  private server: Server | undefined;

  constructor(private readonly config: BackendConfig) {
    this.slots = new Slots(config.concurrency, config.priorityAgingMs);
    // Stream 11 is the simulator's upstream stream (libs/sim STREAMS): same seed, same draws.
    this.random = randomStream(config.seed, 11);
  }

  async listen(): Promise<string> {
    const server = createServer((req, res) => void this.route(req, res));
    server.keepAliveTimeout = 65_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.port, this.config.host, () => resolve());
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : this.config.port;
    return `http://${this.config.host}:${port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    try {
      const endpoint = ENDPOINTS[path];
      if (req.method === 'POST' && endpoint) return await this.serve(endpoint, req, res);
      if (req.method === 'GET' && path === '/healthz') return send(res, 200, { status: 'ok' });
      if (req.method === 'GET' && path === '/stats')
        return send(res, 200, { ...this.stats, in_flight: this.slots.inUse, queued: this.slots.queued });
      if (req.method === 'GET' && path === '/v1/models') return send(res, 200, this.models());
      if (req.method === 'POST' && path === '/admin/fail') return send(res, 200, this.failWindow(await readJson(req, 4096)));
      if (req.method === 'POST' && path === '/admin/stats/reset') {
        Object.assign(this.stats, { calls: 0, items: 0, tokens: 0, failed: 0, aborted: 0 });
        return send(res, 200, this.stats);
      }
      throw new ApiError(404, `no route for ${req.method} ${path}`);
    } catch (error) {
      if (res.headersSent) return void res.destroy();
      const apiError = error instanceof ApiError ? error : new ApiError(500, error instanceof Error ? error.message : String(error));
      send(res, apiError.status, apiError.body());
    }
  }

  private models(): unknown {
    const entry = (id: string) => ({ id, object: 'model', created: 0, owned_by: 'batchgate-sim' });
    return { object: 'list', data: [entry(MODELS.embedding), entry(MODELS.llm)] };
  }

  /** {"for_ms": N} fails every call for N ms from now; {"until_ms": epoch ms} until then; "status" picks the code (503). */
  private failWindow(body: unknown): { failing_until_ms: number; status: number } {
    const b = (body ?? {}) as { for_ms?: unknown; until_ms?: unknown; status?: unknown };
    const valid = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
    if (b.for_ms !== undefined && !valid(b.for_ms)) throw new ApiError(400, "'for_ms' must be a number of ms >= 0", 'for_ms');
    if (b.until_ms !== undefined && !valid(b.until_ms)) throw new ApiError(400, "'until_ms' must be a Unix time in ms", 'until_ms');
    if (b.status !== undefined && !(Number.isInteger(b.status) && (b.status as number) >= 400 && (b.status as number) <= 599))
      throw new ApiError(400, "'status' must be an HTTP error status (400-599)", 'status');
    this.failingUntilMs = valid(b.until_ms) ? (b.until_ms as number) : Date.now() + (valid(b.for_ms) ? (b.for_ms as number) : 0);
    this.failStatus = (b.status as number | undefined) ?? 503;
    return { failing_until_ms: this.failingUntilMs, status: this.failStatus };
  }

  private count(call: ParsedCall): void {
    const prompt = call.inputs.reduce((sum, input) => sum + input.promptTokens, 0);
    this.stats.calls++;
    this.stats.items += call.inputs.length;
    this.stats.tokens += prompt + call.inputs.length * call.n * call.maxTokens;
  }

  private async serve(endpoint: Endpoint, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const call = parseCall(endpoint, await readJson(req, this.config.maxBodyBytes), this.config.dimensions);
    this.count(call);
    const left = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) {
        this.stats.aborted++;
        left.abort();
      }
    });
    let release: (() => void) | undefined;
    try {
      // A batchgate worker names its batch's priority; anyone else's call is normal.
      const priority = parsePriority(req.headers['x-batchgate-priority']) ?? Priority.NORMAL;
      release = await this.slots.acquire(left.signal, priority);
      if (Date.now() < this.failingUntilMs || callFails(this.config.model, this.random)) {
        this.stats.failed++;
        const status = Date.now() < this.failingUntilMs ? this.failStatus : 503;
        throw new ApiError(status, 'the simulated backend is failing (injected)', null, 'backend_failure');
      }
      const perInput = call.inputs.map((input) => input.promptTokens + call.maxTokens * call.n);
      const ms = serviceTimeMs(
        { items: call.inputs.length, totalTokens: perInput.reduce((a, b) => a + b, 0), maxTokens: Math.max(...perInput) },
        this.config.model,
        this.random,
      );
      const meta = {
        id: `${endpoint === 'chat' ? 'chatcmpl' : endpoint === 'embeddings' ? 'emb' : 'cmpl'}-${randomBytes(8).toString('hex')}`,
        created: Math.floor(Date.now() / 1000),
      };
      if (call.stream) return await this.stream(call, meta, ms, res, left.signal);
      await sleep(ms, left.signal);
      send(res, 200, answerOf(call, meta));
    } catch (error) {
      if (left.signal.aborted) return;
      throw error;
    } finally {
      release?.();
    }
  }

  /** Server-sent events spread over the service time: time to first event = ms / (pieces + 1). */
  private async stream(
    call: ParsedCall,
    meta: { id: string; created: number },
    ms: number,
    res: ServerResponse,
    signal: AbortSignal,
  ): Promise<void> {
    const events = streamEvents(call, meta);
    const gap = ms / (streamPieces(call) + 1);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    for (const [i, event] of events.entries()) {
      // Content events one gap apart, the finish event at the end of the service time, usage right after it.
      if (i <= streamPieces(call)) await sleep(gap, signal);
      res.write(`data: ${JSON.stringify(event)}\n\n`);
    }
    res.end('data: [DONE]\n\n');
  }
}
