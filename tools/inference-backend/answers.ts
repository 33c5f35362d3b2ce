import { createHash } from 'node:crypto';
import { seededRandom } from '#libs/policy';
import type { ParsedCall } from './requests.js';

/** A seed from the input's text, so equal inputs get equal answers in any batch, at any position. */
function textSeed(text: string, salt: string): number {
  return createHash('sha256').update(salt).update('\0').update(text).digest().readUInt32LE(0);
}

/** The unit vector the backend answers for `text`: deterministic, so a test can recompute a client's own vector. */
export function embeddingOf(text: string, dimensions: number): number[] {
  const random = seededRandom(textSeed(text, 'embedding'));
  const vector = Array.from({ length: dimensions }, () => random() * 2 - 1);
  const norm = Math.hypot(...vector) || 1;
  return vector.map((v) => Math.fround(v / norm));
}

/** The completion text of choice `choice` for `text`: `tokens` words of 4 characters (so the len/4 estimate holds). */
export function completionOf(text: string, choice: number, tokens: number): string {
  const random = seededRandom(textSeed(text, `completion.${choice}`));
  let out = '';
  for (let i = 0; i < tokens; i++)
    out += ` ${Math.floor(random() * 0x7fff)
      .toString(36)
      .padStart(3, 'a')}`;
  return out;
}

function base64Of(vector: number[]): string {
  return Buffer.from(new Float32Array(vector).buffer).toString('base64');
}

export interface AnswerMeta {
  id: string;
  created: number;
}

function usageOf(call: ParsedCall) {
  const promptTokens = call.inputs.reduce((sum, input) => sum + input.promptTokens, 0);
  const completionTokens = call.endpoint === 'embeddings' ? 0 : call.inputs.length * call.n * call.maxTokens;
  return call.endpoint === 'embeddings'
    ? { prompt_tokens: promptTokens, total_tokens: promptTokens }
    : { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/** The whole (non-streamed) answer, in OpenAI's shape for the endpoint. */
export function answerOf(call: ParsedCall, meta: AnswerMeta): unknown {
  const usage = usageOf(call);
  if (call.endpoint === 'embeddings') {
    const data = call.inputs.map((input, index) => {
      const vector = embeddingOf(input.text, call.dimensions);
      return { object: 'embedding', index, embedding: call.encodingFormat === 'base64' ? base64Of(vector) : vector };
    });
    return { object: 'list', data, model: call.model, usage };
  }
  const choices = call.inputs.flatMap((input, i) =>
    Array.from({ length: call.n }, (_, j) => {
      const text = completionOf(input.text, j, call.maxTokens);
      const index = i * call.n + j;
      return call.endpoint === 'chat'
        ? { index, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'length' }
        : { index, text, logprobs: null, finish_reason: 'length' };
    }),
  );
  const object = call.endpoint === 'chat' ? 'chat.completion' : 'text_completion';
  return { id: meta.id, object, created: meta.created, model: call.model, choices, usage };
}

/** How many content events a streamed answer has (one per token, at most 16, so long answers stay cheap). */
export function streamPieces(call: ParsedCall): number {
  return Math.max(1, Math.min(call.maxTokens, 16));
}

/**
 * The `data:` payloads of a streamed answer, in order: the content events
 * (each carries the next piece of every choice), a finish event, and the usage
 * event when stream_options.include_usage asked for it. `[DONE]` is the server's.
 */
export function streamEvents(call: ParsedCall, meta: AnswerMeta): unknown[] {
  const pieces = streamPieces(call);
  const chat = call.endpoint === 'chat';
  const object = chat ? 'chat.completion.chunk' : 'text_completion';
  const words = call.inputs.map((input) =>
    Array.from({ length: call.n }, (_, j) => completionOf(input.text, j, call.maxTokens).match(/ [^ ]+/g) ?? []),
  );
  const event = (choices: unknown[]) => ({ id: meta.id, object, created: meta.created, model: call.model, choices });
  const events: unknown[] = [];
  for (let k = 0; k < pieces; k++) {
    const choices = words.flatMap((perChoice, i) =>
      perChoice.map((tokens, j) => {
        const from = Math.floor((k * tokens.length) / pieces);
        const to = Math.floor(((k + 1) * tokens.length) / pieces);
        const text = tokens.slice(from, to).join('');
        const index = i * call.n + j;
        return chat
          ? { index, delta: k === 0 ? { role: 'assistant', content: text } : { content: text }, logprobs: null, finish_reason: null }
          : { index, text, logprobs: null, finish_reason: null };
      }),
    );
    events.push(event(choices));
  }
  const finish = words.flatMap((perChoice, i) =>
    perChoice.map((_, j) =>
      chat
        ? { index: i * call.n + j, delta: {}, logprobs: null, finish_reason: 'length' }
        : { index: i * call.n + j, text: '', logprobs: null, finish_reason: 'length' },
    ),
  );
  events.push(event(finish));
  if (call.includeUsage) events.push({ ...event([]), usage: usageOf(call) });
  return events;
}

export { usageOf };
