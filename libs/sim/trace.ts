/**
 * An arrival trace: what the simulator replays. Synthetic traffic models and
 * recorded telemetry exports both become this shape.
 *
 * Recorded format (the telemetry service's arrival export): JSON Lines, one
 * arrival per line, `{"t_ms": <number>, "key": "<coalescing key>", "route": "<route>"}`.
 * `t_ms` is milliseconds since the trace start or since the epoch; traces are
 * shifted so the first arrival is at 0. Extra fields are ignored, `route`
 * defaults to "default", and lines that are blank or start with `#` are skipped.
 */
export interface Trace {
  /** Arrival times in ms from the trace start, ascending. */
  t: Float64Array;
  /** Index into `keys` per arrival. */
  key: Int32Array;
  /** Coalescing keys. */
  keys: string[];
  /** Route of each key (same index as `keys`). */
  routes: string[];
}

export interface TraceArrival {
  tMs: number;
  key: string;
  route: string;
}

export class TraceFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TraceFormatError';
  }
}

/** Builds a trace from arrivals in any order; times are shifted to start at 0. */
export function traceFromArrivals(arrivals: readonly TraceArrival[]): Trace {
  const order = arrivals.map((_, i) => i).sort((a, b) => arrivals[a]!.tMs - arrivals[b]!.tMs || a - b);
  const start = order.length > 0 ? arrivals[order[0]!]!.tMs : 0;
  const keyIndex = new Map<string, number>();
  const keys: string[] = [];
  const routes: string[] = [];
  const t = new Float64Array(order.length);
  const key = new Int32Array(order.length);
  order.forEach((source, i) => {
    const arrival = arrivals[source]!;
    let k = keyIndex.get(arrival.key);
    if (k === undefined) {
      keyIndex.set(arrival.key, (k = keys.length));
      keys.push(arrival.key);
      routes.push(arrival.route);
    }
    t[i] = arrival.tMs - start;
    key[i] = k;
  });
  return { t, key, keys, routes };
}

/** Parses the telemetry export (see the module comment). */
export function parseTraceJsonl(text: string): Trace {
  const arrivals: TraceArrival[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      throw new TraceFormatError(`line ${index + 1}: not JSON`);
    }
    const { t_ms: tMs, key, route } = (record ?? {}) as Record<string, unknown>;
    if (typeof tMs !== 'number' || !Number.isFinite(tMs)) throw new TraceFormatError(`line ${index + 1}: t_ms must be a number`);
    if (typeof key !== 'string') throw new TraceFormatError(`line ${index + 1}: key must be a string`);
    arrivals.push({ tMs, key, route: typeof route === 'string' ? route : 'default' });
  });
  return traceFromArrivals(arrivals);
}

export function traceToJsonl(trace: Trace): string {
  const lines: string[] = [];
  for (let i = 0; i < trace.t.length; i++) {
    const k = trace.key[i]!;
    lines.push(JSON.stringify({ t_ms: Math.round(trace.t[i]! * 1000) / 1000, key: trace.keys[k], route: trace.routes[k] }));
  }
  return lines.join('\n') + '\n';
}

/** The arrivals in [fromMs, toMs), shifted to start at 0 (training draws windows of long traces). */
export function traceWindow(trace: Trace, fromMs: number, toMs: number): Trace {
  const arrivals: TraceArrival[] = [];
  for (let i = 0; i < trace.t.length; i++) {
    const t = trace.t[i]!;
    if (t >= fromMs && t < toMs) arrivals.push({ tMs: t - fromMs, key: trace.keys[trace.key[i]!]!, route: trace.routes[trace.key[i]!]! });
  }
  const window = traceFromArrivals(arrivals);
  // traceFromArrivals shifts to the first arrival; keep the window's own origin instead.
  const offset = arrivals.length > 0 ? arrivals.reduce((m, a) => Math.min(m, a.tMs), Infinity) : 0;
  for (let i = 0; i < window.t.length; i++) window.t[i] = window.t[i]! + offset;
  return window;
}

export function traceDurationMs(trace: Trace): number {
  return trace.t.length === 0 ? 0 : trace.t[trace.t.length - 1]!;
}
