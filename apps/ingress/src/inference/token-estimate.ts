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

/**
 * cl100k's pre-tokenizer: BPE runs within each of its pieces (words with their
 * leading space, number groups, punctuation runs, whitespace), so a text's
 * count is the sum of its pieces' counts, and a piece's count never changes.
 */
const PIECES = new RegExp(cl100k.pat_str, 'gu');

/**
 * Token counts of pieces seen before. Text repeats its words, so most pieces
 * are counted once and then looked up: js-tiktoken's encode costs ~1.5 µs a
 * token (0.4 ms for a 1 KB prompt) on the ingress's event loop, in front of
 * every client's request. Cleared when full rather than kept in LRU order.
 */
const pieceTokens = new Map<string, number>();
const PIECE_CACHE_MAX = 65_536;

function piecesOf(text: string): number {
  encoder ??= new Tiktoken(cl100k);
  let tokens = 0;
  for (const [piece] of text.matchAll(PIECES)) {
    let n = pieceTokens.get(piece);
    if (n === undefined) {
      // No special tokens: a client's "<|endoftext|>" is plain text here (by default encode() throws on it).
      n = encoder.encode(piece, [], []).length;
      if (pieceTokens.size >= PIECE_CACHE_MAX) pieceTokens.clear();
      pieceTokens.set(piece, n);
    }
    tokens += n;
  }
  return tokens;
}

export function estimateTokens(text: string): number {
  if (text.length > TOKENIZE_MAX_CHARS) return Math.ceil(text.length / 4);
  return piecesOf(text);
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
