import { describe, expect, it } from 'vitest';
import { projectionDiff, seriesOf } from './rebuild.js';

describe('comparing a rebuilt projection with the live one', () => {
  const live = ['# TYPE batch_flush_total counter', 'batch_flush_total{reason="timeout"} 3', 'process_cpu_seconds_total 1.5', ''].join(
    '\n',
  );

  it('reads Prometheus text as series and values', () => {
    expect(seriesOf(live)).toEqual(
      new Map([
        ['batch_flush_total{reason="timeout"}', 3],
        ['process_cpu_seconds_total', 1.5],
      ]),
    );
  });

  it("compares only the rebuilt projection's series, and names each difference", () => {
    expect(projectionDiff(live, 'batch_flush_total{reason="timeout"} 3\n')).toEqual([]);
    expect(projectionDiff(live, 'batch_flush_total{reason="timeout"} 4\nactive_batch_slots 0\n')).toEqual([
      'batch_flush_total{reason="timeout"}: 3 -> 4',
      'active_batch_slots: missing -> 0',
    ]);
  });
});
