import { describe, expect, it } from 'vitest';
import { exportDiff, projectionDiff, seriesOf } from './rebuild.js';

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

  it('compares JSON Lines exports line by line, naming the counts and the first differing lines', () => {
    expect(exportDiff('episodes', '{"a":1}\n{"a":2}', '{"a":1}\n{"a":2}\n')).toEqual([]);
    expect(exportDiff('episodes', '{"a":1}\n{"a":2}', '{"a":1}\n{"a":3}\n{"a":4}')).toEqual([
      'episodes: 2 lines live -> 3 rebuilt',
      'episodes line 2: {"a":2} -> {"a":3}',
      'episodes line 3: missing -> {"a":4}',
    ]);
  });
});
