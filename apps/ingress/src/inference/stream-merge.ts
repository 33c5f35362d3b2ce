interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}

interface StreamEvent {
  id?: string;
  created?: number;
  choices?: Array<{ index?: number }>;
  usage?: Usage | null;
}

/**
 * One client stream out of its items' backend streams (a completion's prompt
 * array: one streamed backend call per prompt). OpenAI's stream for the whole
 * request has one id, `choices[].index` = prompt * n + choice, and at most one
 * usage event (choices []) just before `[DONE]`, so each item's events are
 * rewritten to that: its choice indices shifted, the first item's id and
 * created, its usage held back and summed into one last event. A single-item
 * stream passes through untouched.
 */
export class StreamMerge {
  private readonly finished = new Set<number>();
  private id: string | undefined;
  private created: number | undefined;
  private usage: Required<Usage> | undefined;
  private usageEvent: StreamEvent | undefined;

  constructor(
    private readonly items: number,
    private readonly n: number,
  ) {}

  /** The `data:` payload to send for item `item`'s event, or undefined when it is held (a usage event). */
  event(item: number, data: string): string | undefined {
    if (this.items <= 1) return data;
    let event: StreamEvent;
    try {
      event = JSON.parse(data) as StreamEvent;
    } catch {
      return data;
    }
    if (typeof event !== 'object' || event === null) return data;
    this.id ??= event.id;
    this.created ??= event.created;
    if ((event.choices ?? []).length === 0 && event.usage) {
      this.addUsage(event.usage);
      this.usageEvent ??= event;
      return undefined;
    }
    const choices = (event.choices ?? []).map((choice, position) => ({
      ...choice,
      index: item * this.n + (typeof choice.index === 'number' ? choice.index : position),
    }));
    return JSON.stringify({ ...event, id: this.id ?? event.id, created: this.created ?? event.created, choices });
  }

  /** Item `item`'s stream ended; true once every item's has. */
  done(item: number): boolean {
    this.finished.add(item);
    return this.finished.size >= this.items;
  }

  /** What goes before `[DONE]`: the summed usage event, when the items sent usage. */
  tail(): string[] {
    if (!this.usage || !this.usageEvent) return [];
    return [JSON.stringify({ ...this.usageEvent, id: this.id, created: this.created, choices: [], usage: this.usage })];
  }

  private addUsage(usage: Usage): void {
    const sum = this.usage ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
    sum.prompt_tokens += usage.prompt_tokens ?? 0;
    sum.completion_tokens += usage.completion_tokens ?? 0;
    sum.total_tokens += usage.total_tokens ?? (usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0);
    this.usage = sum;
  }
}
