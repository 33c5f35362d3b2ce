/** Thrown at start-up when settings are invalid; lists every bad setting at once. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

interface IntOptions {
  min?: number;
  max?: number;
}

/** Reads typed values from an env map, collecting problems instead of throwing on the first. */
export class EnvReader {
  private readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  int(name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER }: IntOptions = {}): number {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!/^-?\d+$/.test(text) || value < min || value > max) {
      this.problem(name, `an integer between ${min} and ${max}`, text);
      return fallback;
    }
    return value;
  }

  number(name: string, fallback: number, { min = -Infinity, max = Infinity }: IntOptions = {}): number {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value < min || value > max) {
      this.problem(name, `a number between ${min} and ${max}`, text);
      return fallback;
    }
    return value;
  }

  bool(name: string, fallback: boolean): boolean {
    const text = this.raw(name)?.toLowerCase();
    if (text === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(text)) return true;
    if (['0', 'false', 'no', 'off'].includes(text)) return false;
    this.problem(name, 'true or false', text);
    return fallback;
  }

  url(name: string, fallback: string | undefined, protocols: readonly string[]): string {
    const text = this.raw(name) ?? fallback;
    if (text === undefined) {
      this.problems.push(`${name} is required (a ${protocols.join(' or ')} URL)`);
      return '';
    }
    try {
      const parsed = new URL(text);
      if (!protocols.includes(parsed.protocol.replace(/:$/, ''))) throw new Error('protocol');
      return text.replace(/\/+$/, '');
    } catch {
      this.problem(name, `a ${protocols.join(' or ')} URL`, text);
      return '';
    }
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(text)) {
      this.problem(name, `one of ${allowed.join(', ')}`, text);
      return fallback;
    }
    return text as T;
  }

  /** Records a problem found by a caller's own check. */
  problem(name: string, expected: string, got: string): void {
    this.problems.push(`${name} must be ${expected} (got "${got}")`);
  }

  done(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}

/** Builds a config from env with `build`, throwing one ConfigError listing every problem. */
export function readConfig<T>(env: Env, build: (reader: EnvReader) => T): T {
  const reader = new EnvReader(env);
  const config = build(reader);
  reader.done();
  return config;
}
