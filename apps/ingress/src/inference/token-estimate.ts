import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';

/**
 * Prompt tokens of an input, counted with OpenAI's cl100k_base tokenizer,
 * whose vocabulary ships inside js-tiktoken (nothing is downloaded at run
 * time). For other models (the simulated backend, open models behind an
 * OpenAI-compatible server) this is an estimate: their tokenizers differ,
 * typically by 10-30 %. It picks the token bucket and counts against the
 * batch token budget; the answer's `usage` comes from the backend.
 */
let encoder: Tiktoken | undefined;

/** Above this many characters seed 004's len/4 estimate is used: encoding megabytes on the event loop would stall every client. */
const TOKENIZE_MAX_CHARS = 32_768;

export function estimateTokens(text: string): number {
  if (text.length > TOKENIZE_MAX_CHARS) return Math.ceil(text.length / 4);
  encoder ??= new Tiktoken(cl100k);
  return encoder.encode(text).length;
}

/** Tokens of an item: a string is tokenized, a token array counted, a chat body summed over its messages. */
export function estimateInputTokens(input: unknown): number {
  if (typeof input === 'string') return estimateTokens(input);
  if (Array.isArray(input)) return input.length;
  if (input !== null && typeof input === 'object' && Array.isArray((input as { messages?: unknown }).messages)) {
    // 4 tokens of framing per message (role and separators), as OpenAI's cookbook counts chat prompts.
    return (input as { messages: Array<{ content?: unknown }> }).messages.reduce(
      (sum, m) => sum + 4 + (typeof m.content === 'string' ? estimateTokens(m.content) : estimateTokens(JSON.stringify(m.content ?? ''))),
      3,
    );
  }
  return 0;
}
