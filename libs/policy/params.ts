/** Thrown when a strategy spec names an unknown strategy or a bad parameter. */
export class StrategyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StrategyConfigError';
  }
}

interface Range {
  min?: number;
  max?: number;
}

/** Reads a strategy's numeric parameters; unknown names and out-of-range values are errors. */
export class StrategyParams {
  private readonly used = new Set<string>();

  constructor(
    private readonly strategy: string,
    private readonly params: Readonly<Record<string, number>>,
  ) {}

  get(name: string, fallback: number, { min = -Infinity, max = Infinity }: Range = {}): number {
    this.used.add(name);
    const value = this.params[name] ?? fallback;
    if (!Number.isFinite(value) || value < min || value > max) {
      throw new StrategyConfigError(`${this.strategy}.${name} must be between ${min} and ${max} (got ${value})`);
    }
    return value;
  }

  optional(name: string, range: Range = {}): number | undefined {
    return this.params[name] === undefined ? (this.used.add(name), undefined) : this.get(name, 0, range);
  }

  /** Call after reading every parameter: rejects names the strategy does not know. */
  done(): void {
    const unknown = Object.keys(this.params).filter((name) => !this.used.has(name));
    if (unknown.length > 0) {
      throw new StrategyConfigError(`${this.strategy} has no parameter(s) ${unknown.join(', ')}`);
    }
  }
}
