import type { InferBatch } from '#libs/contracts';
import { InferKind } from '#libs/contracts';
import { BackendFailure } from './backends.js';
import { SseReader } from './sse.js';

export interface RelayedChunk {
  seq: number;
  data: Uint8Array;
  done: boolean;
}

/** Where a stream is: chunks sent so far (a stream that reached its clients is not retried). */
export interface StreamState {
  sentAny: boolean;
  seq: number;
}

interface StreamChoice {
  index?: number;
  text?: string;
  delta?: { content?: string | null };
  finish_reason?: string | null;
}

interface StreamEvent {
  id?: string;
  created?: number;
  model?: string;
  choices?: StreamChoice[];
  usage?: unknown;
}

const encoder = new TextEncoder();

/**
 * Relays a backend's server-sent events as they arrive: each `data:` payload
 * becomes one chunk (seq 0, 1, ...), `[DONE]` the last one (done, no data).
 * Returns the events folded into the non-streamed answer shape (text per
 * choice, finish reasons, usage when the backend sent it), which is what the
 * batch result carries for the coordinator.
 */
export async function relayStream(
  batch: InferBatch,
  body: AsyncIterable<Buffer>,
  state: StreamState,
  emit: (chunk: RelayedChunk) => void,
): Promise<unknown> {
  const reader = new SseReader();
  const decoder = new TextDecoder();
  const texts = new Map<number, string>();
  const finish = new Map<number, string>();
  let meta: StreamEvent = {};
  let usage: unknown;
  const send = (data: Uint8Array, done: boolean) => {
    emit({ seq: state.seq++, data, done });
    state.sentAny = true;
  };
  for await (const bytes of body) {
    for (const data of reader.feed(decoder.decode(bytes, { stream: true }))) {
      if (data === '[DONE]') {
        send(new Uint8Array(), true);
        return folded(batch, meta, texts, finish, usage);
      }
      let event: StreamEvent;
      try {
        event = JSON.parse(data) as StreamEvent;
      } catch {
        throw new BackendFailure(502, 'the backend sent an event that is not JSON', true);
      }
      if (meta.id === undefined) meta = { id: event.id, created: event.created, model: event.model };
      if (event.usage) usage = event.usage;
      for (const choice of event.choices ?? []) {
        const index = choice.index ?? 0;
        texts.set(index, (texts.get(index) ?? '') + (choice.text ?? choice.delta?.content ?? ''));
        if (choice.finish_reason) finish.set(index, choice.finish_reason);
      }
      send(encoder.encode(data), false);
    }
  }
  throw new BackendFailure(502, 'the stream ended without [DONE]', true);
}

function folded(batch: InferBatch, meta: StreamEvent, texts: Map<number, string>, finish: Map<number, string>, usage: unknown): unknown {
  const chat = batch.kind === InferKind.CHAT;
  const choices = [...texts.keys()]
    .sort((a, b) => a - b)
    .map((index) =>
      chat
        ? { index, message: { role: 'assistant', content: texts.get(index) }, finish_reason: finish.get(index) ?? null }
        : { index, text: texts.get(index), finish_reason: finish.get(index) ?? null },
    );
  return { ...meta, object: chat ? 'chat.completion' : 'text_completion', choices, ...(usage ? { usage } : {}) };
}
