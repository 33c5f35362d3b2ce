import type { InferOutput, MessageInitShape } from '#libs/contracts';
import type { InferOutputSchema } from '#libs/contracts';
import { InferKind } from '#libs/contracts';

export type Output = MessageInitShape<typeof InferOutputSchema>;

const encoder = new TextEncoder();

/** Splits `total` into integer shares proportional to `weights` (largest remainder), summing to `total`. */
export function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (weights.length === 0) return [];
  const exact = weights.map((w) => (sum > 0 ? (total * w) / sum : total / weights.length));
  const shares = exact.map(Math.floor);
  let left = total - shares.reduce((a, b) => a + b, 0);
  const order = exact.map((v, i) => [v - Math.floor(v), i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) {
    if (left <= 0) break;
    shares[i]!++;
    left--;
  }
  return shares;
}

interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
}

interface Answer {
  data?: Array<{ index?: number }>;
  choices?: Array<{ index?: number; text?: string; message?: { content?: string } }>;
  usage?: Usage;
}

const missing = (what: string): Output => ({ status: 502, error: `the backend's answer has no ${what} for this input` });

/**
 * One backend answer -> one InferOutput per batch input, in input order:
 * embeddings by `data[].index`; completions by `choices[].index` = prompt * n + choice
 * (the output carries that prompt's choices, indexed 0..n-1 relative to it);
 * chat the whole body. The answer's usage is shared out over the inputs: prompt
 * tokens by their estimated prompt tokens, completion tokens by their text length.
 */
export function splitAnswer(kind: InferKind, answer: unknown, promptEstimates: readonly number[], n: number): Output[] {
  const body = (answer ?? {}) as Answer;
  const inputs = promptEstimates.length;
  const usage = body.usage ?? {};
  const prompt = apportion(usage.prompt_tokens ?? promptEstimates.reduce((a, b) => a + b, 0), promptEstimates);
  if (kind === InferKind.CHAT) {
    return [
      {
        status: 200,
        outputJson: encoder.encode(JSON.stringify(answer)),
        promptTokens: usage.prompt_tokens ?? 0,
        completionTokens: usage.completion_tokens ?? 0,
      },
    ];
  }
  if (kind === InferKind.EMBEDDING) {
    const byIndex = new Map((body.data ?? []).map((entry, position) => [entry.index ?? position, entry]));
    return Array.from({ length: inputs }, (_, i) => {
      const entry = byIndex.get(i);
      return entry ? { status: 200, outputJson: encoder.encode(JSON.stringify(entry)), promptTokens: prompt[i]! } : missing('embedding');
    });
  }
  const perPrompt: Array<Array<Record<string, unknown>>> = Array.from({ length: inputs }, () => []);
  for (const [position, choice] of (body.choices ?? []).entries()) {
    const index = choice.index ?? position;
    const owner = Math.floor(index / n);
    if (owner < inputs) perPrompt[owner]!.push({ ...choice, index: index % n });
  }
  const textLength = perPrompt.map((choices) =>
    choices.reduce(
      (sum, c) => sum + String((c.text as string | undefined) ?? (c.message as { content?: string } | undefined)?.content ?? '').length,
      0,
    ),
  );
  const completion = apportion(usage.completion_tokens ?? 0, textLength);
  return perPrompt.map((choices, i) =>
    choices.length === 0
      ? missing('choice')
      : {
          status: 200,
          outputJson: encoder.encode(JSON.stringify(choices.sort((a, b) => (a.index as number) - (b.index as number)))),
          promptTokens: prompt[i]!,
          completionTokens: completion[i]!,
        },
  );
}

/** Every input gets the same error (the whole call failed). */
export function failedOutputs(inputs: number, status: number, error: string): Output[] {
  return Array.from({ length: inputs }, () => ({ status, error }));
}

export type { InferOutput };
