import type { EvalRow, FrontierPoint } from '#libs/sim';

/** Hand-written SVG plots (no native dependencies): latency CDFs and the reduction-vs-p50 frontier. */
const WIDTH = 820;
const HEIGHT = 460;
const MARGIN = { left: 64, right: 240, top: 36, bottom: 52 };
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** The oracle is always black; policies cycle through the palette. */
const colorOf = (label: string, i: number) => (label === 'oracle' ? '#000000' : COLORS[i % COLORS.length]!);

interface Axis {
  min: number;
  max: number;
  log: boolean;
}

function scale(axis: Axis, from: number, to: number): (v: number) => number {
  const f = (v: number) => (axis.log ? Math.log10(Math.max(v, axis.min)) : v);
  const lo = f(axis.min);
  const hi = f(axis.max);
  return (v) => from + ((f(v) - lo) / (hi - lo || 1)) * (to - from);
}

function ticks(axis: Axis): number[] {
  if (axis.log) {
    const out: number[] = [];
    for (let p = Math.floor(Math.log10(axis.min)); p <= Math.ceil(Math.log10(axis.max)); p++) {
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** p;
        if (v >= axis.min && v <= axis.max) out.push(v);
      }
    }
    return out;
  }
  const step = niceStep((axis.max - axis.min) / 6);
  const out: number[] = [];
  for (let v = Math.ceil(axis.min / step) * step; v <= axis.max + 1e-9; v += step) out.push(Number(v.toPrecision(10)));
  return out;
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw || 1));
  const m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function frame(title: string, x: Axis, y: Axis, xLabel: string, yLabel: string, body: string[], legend: [string, string][]): string {
  const sx = scale(x, MARGIN.left, WIDTH - MARGIN.right);
  const sy = scale(y, HEIGHT - MARGIN.bottom, MARGIN.top);
  // The plot keeps its size; the picture widens when a legend label would run past the edge (~7 px per character at 12 px).
  const width = Math.max(WIDTH, WIDTH - MARGIN.right + 46 + 7 * Math.max(0, ...legend.map(([label]) => label.length)));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${WIDTH / 2 - MARGIN.right / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
  for (const v of ticks(x)) {
    parts.push(`<line x1="${sx(v)}" x2="${sx(v)}" y1="${MARGIN.top}" y2="${HEIGHT - MARGIN.bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${sx(v)}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${v}</text>`);
  }
  for (const v of ticks(y)) {
    parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${sy(v)}" y2="${sy(v)}" stroke="#eee"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${sy(v) + 4}" text-anchor="end">${v}</text>`);
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${WIDTH - MARGIN.left - MARGIN.right}" height="${HEIGHT - MARGIN.top - MARGIN.bottom}" fill="none" stroke="#333"/>`,
  );
  parts.push(`<text x="${(MARGIN.left + WIDTH - MARGIN.right) / 2}" y="${HEIGHT - 12}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${HEIGHT / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  parts.push(...body);
  legend.forEach(([label, color], i) => {
    const ly = MARGIN.top + 10 + i * 18;
    parts.push(
      `<line x1="${WIDTH - MARGIN.right + 12}" x2="${WIDTH - MARGIN.right + 32}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
    );
    parts.push(`<text x="${WIDTH - MARGIN.right + 38}" y="${ly + 4}">${esc(label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Client-latency CDF per policy (log-scaled latency axis). */
export function latencyCdfSvg(title: string, rows: readonly EvalRow[]): string {
  const withData = rows.filter((r) => r.latencies && r.latencies.length > 0);
  const all = withData.flatMap((r) => [r.latencies![0]!, r.latencies!.at(-1)!]);
  const x: Axis = { min: Math.max(0.5, Math.min(...all)), max: Math.max(...all), log: true };
  const y: Axis = { min: 0, max: 1, log: false };
  const sx = scale(x, MARGIN.left, WIDTH - MARGIN.right);
  const sy = scale(y, HEIGHT - MARGIN.bottom, MARGIN.top);
  const legend: [string, string][] = [];
  const body = withData.map((row, i) => {
    const color = colorOf(row.policy, i);
    legend.push([row.policy, color]);
    const data = row.latencies!;
    const points: string[] = [];
    const steps = Math.min(400, data.length);
    for (let k = 0; k < steps; k++) {
      const index = Math.floor((k / (steps - 1)) * (data.length - 1));
      points.push(`${sx(data[index]!).toFixed(1)},${sy((index + 1) / data.length).toFixed(1)}`);
    }
    return `<polyline fill="none" stroke="${color}" stroke-width="1.6" points="${points.join(' ')}"/>`;
  });
  return frame(title, x, y, 'client latency (ms, log scale) = wait + upstream', 'fraction of requests', body, legend);
}

/** Widens [lo, hi] to the 1-2-5 values around it, so log axes start and end on a labelled tick. */
function niceLogRange(lo: number, hi: number): Axis {
  const steps = [1, 2, 5, 10];
  const down = (v: number) => {
    const p = 10 ** Math.floor(Math.log10(v));
    return p * [...steps].reverse().find((m) => m * p <= v)!;
  };
  const up = (v: number) => {
    const p = 10 ** Math.floor(Math.log10(v));
    return p * steps.find((m) => m * p >= v)!;
  };
  return { min: down(lo), max: up(hi), log: true };
}

/**
 * Each policy as a labelled point (p50, reduction) with the oracle frontier as
 * a line. `minReduction` zooms the y axis (points below it are left out).
 */
export function frontierSvg(title: string, rows: readonly EvalRow[], frontier: readonly FrontierPoint[], minReduction = 0): string {
  const points = rows.map((r) => ({ label: r.policy, p50: r.metrics.p50, reduction: r.metrics.reduction * 100 }));
  const curve = frontier.map((f) => ({ p50: f.metrics.p50, reduction: f.metrics.reduction * 100 }));
  const shown = [...points, ...curve].filter((p) => p.reduction >= minReduction);
  const x = niceLogRange(Math.max(0.5, Math.min(...shown.map((p) => p.p50))), Math.max(...shown.map((p) => p.p50)));
  const low = Math.max(minReduction, Math.floor(Math.min(...shown.map((p) => p.reduction)) - 1));
  const y: Axis = { min: low, max: Math.min(100, Math.ceil(Math.max(...shown.map((p) => p.reduction)) + 0.5)), log: false };
  const sx = scale(x, MARGIN.left, WIDTH - MARGIN.right);
  const sy = scale(y, HEIGHT - MARGIN.bottom, MARGIN.top);
  const line = curve
    .filter((p) => p.reduction >= low)
    .sort((a, b) => a.reduction - b.reduction)
    .map((p) => `${sx(p.p50).toFixed(1)},${sy(p.reduction).toFixed(1)}`);
  const body = [`<polyline fill="none" stroke="#999" stroke-width="2" stroke-dasharray="5 3" points="${line.join(' ')}"/>`];
  const legend: [string, string][] = [['oracle frontier', '#999']];
  points.forEach((p, i) => {
    if (p.reduction < low) return;
    const color = colorOf(p.label, i);
    legend.push([p.label, color]);
    body.push(`<circle cx="${sx(p.p50).toFixed(1)}" cy="${sy(p.reduction).toFixed(1)}" r="5" fill="${color}"/>`);
    // Inline labels only while they stay readable; the legend always names every point.
    if (points.length <= 6) {
      body.push(
        `<text x="${(sx(p.p50) + 7).toFixed(1)}" y="${(sy(p.reduction) - 7).toFixed(1)}" font-size="10" fill="${color}">${esc(p.label)}</text>`,
      );
    }
  });
  return frame(title, x, y, 'p50 client latency (ms, log scale)', 'upstream reduction (%)', body, legend);
}
