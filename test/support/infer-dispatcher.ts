import type { InferBatchResult, InferChunk, Priority } from '#libs/contracts';
import {
  InferBatchAcceptedSchema,
  InferBatchCancelSchema,
  InferBatchResultSchema,
  InferBatchSchema,
  InferChunkSchema,
  InferKind,
} from '#libs/contracts';
import { Bus, SUBJECTS } from '#libs/nats';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const encoder = new TextEncoder();

/** Fields a test sets on top of a built batch. */
export interface BatchExtra {
  deadlineAtMs?: number;
  stream?: boolean;
  streamTargets?: Array<{ itemId: string; ingressId: string }>;
  priority?: Priority;
}

/** An InferBatch as the tests build it (assignable to the generated init shape). */
export interface BatchInit extends BatchExtra {
  batchId: string;
  kind: InferKind;
  model: string;
  paramsJson: Uint8Array;
  inputs: Array<{ inputJson: Uint8Array; promptTokens: number }>;
  coordinatorId: string;
}

/**
 * Plays the coordinator's side of the worker contract over real NATS: sends
 * InferBatches to the workers' queue group, collects the InferBatchResults sent
 * to its id and the InferChunks sent to its ingress id, and can cancel a batch.
 */
export class InferDispatcher {
  readonly results = new Map<string, InferBatchResult>();
  readonly chunks: Array<InferChunk & { at: number }> = [];
  readonly acceptedBy = new Map<string, string>();
  private seq = 0;

  private constructor(
    readonly bus: Bus,
    readonly coordinatorId: string,
    readonly ingressId: string,
  ) {}

  static async connect(natsUrl: string, coordinatorId = 'test-coord', ingressId = 'test-ingress'): Promise<InferDispatcher> {
    const bus = await Bus.connect({ url: natsUrl, name: coordinatorId, logger: quiet });
    const dispatcher = new InferDispatcher(bus, coordinatorId, ingressId);
    bus.subscribe(
      SUBJECTS.inferDone(coordinatorId),
      InferBatchResultSchema,
      (result) => void dispatcher.results.set(result.batchId, result),
    );
    bus.subscribe(SUBJECTS.inferChunk(ingressId), InferChunkSchema, (chunk) => void dispatcher.chunks.push({ ...chunk, at: Date.now() }));
    await bus.connection?.flush();
    return dispatcher;
  }

  /** An embedding batch of `texts` (fields of `extra` win). */
  embeddings(texts: string[], extra: BatchExtra = {}): BatchInit {
    return {
      batchId: `b${++this.seq}-${Date.now()}`,
      kind: InferKind.EMBEDDING,
      model: 'sim-embedding',
      paramsJson: encoder.encode('{}'),
      inputs: texts.map((text) => ({ inputJson: encoder.encode(JSON.stringify(text)), promptTokens: Math.ceil(text.length / 4) })),
      coordinatorId: this.coordinatorId,
      ...extra,
    };
  }

  /** A completion batch of `prompts` with `params` (max_tokens, n, temperature ...). */
  completions(prompts: string[], params: Record<string, unknown>, extra: BatchExtra = {}): BatchInit {
    return {
      ...this.embeddings(prompts),
      kind: InferKind.COMPLETION,
      model: 'sim-llm',
      paramsJson: encoder.encode(JSON.stringify(params)),
      ...extra,
    };
  }

  /** Sends the batch; resolves with the id of the worker that accepted it. */
  async send(batch: BatchInit): Promise<string> {
    const accepted = await this.bus.request(SUBJECTS.infer, InferBatchSchema, batch, InferBatchAcceptedSchema, 2000);
    this.acceptedBy.set(batch.batchId, accepted.workerId);
    return accepted.workerId;
  }

  async result(batchId: string, timeoutMs = 10_000): Promise<InferBatchResult> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const result = this.results.get(batchId);
      if (result) return result;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`no InferBatchResult for ${batchId} within ${timeoutMs} ms`);
  }

  /** Sends and waits for the result. */
  async run(batch: BatchInit, timeoutMs?: number): Promise<InferBatchResult> {
    await this.send(batch);
    return this.result(batch.batchId, timeoutMs);
  }

  cancel(workerId: string, batchId: string): void {
    this.bus.publish(SUBJECTS.inferBatchCancel(workerId), InferBatchCancelSchema, { batchId });
  }

  close(): Promise<void> {
    return this.bus.close();
  }
}

const decoder = new TextDecoder();

/** An output's JSON, parsed. */
export function outputOf(result: InferBatchResult, i: number): unknown {
  return JSON.parse(decoder.decode(result.outputs[i]!.outputJson)) as unknown;
}
