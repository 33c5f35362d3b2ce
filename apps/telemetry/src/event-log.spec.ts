import { create, SlotFlushedSchema, toBinary } from '#libs/contracts';
import { Registry } from '#libs/metrics';
import { describe, expect, it } from 'vitest';
import { EventLogReader, RecentIds } from './event-log.js';
import { FleetProjection } from './projections.js';

const flushed = toBinary(SlotFlushedSchema, create(SlotFlushedSchema, { slotId: 's1', reason: 'timeout', size: 3, ageMs: 50 }));

describe('reading the event log', () => {
  it('applies an event once per id, however often the log holds it', () => {
    const registry = new Registry();
    const reader = new EventLogReader(new FleetProjection(registry, 0));
    const event = { subject: 'events.slot.flushed', id: 'e1', schema: 'batchgate.v1.SlotFlushed', data: flushed };
    expect(reader.read(event)).toBe('applied');
    expect(reader.read(event)).toBe('duplicate');
    expect(reader.read({ ...event, id: 'e2' })).toBe('applied');
  });

  it('skips a version it does not know instead of misreading it; reads events from before the schema header as v1', () => {
    const reader = new EventLogReader(new FleetProjection(new Registry(), 0));
    expect(reader.read({ subject: 'events.slot.flushed', id: 'a', schema: 'batchgate.v2.SlotFlushed', data: flushed })).toBe(
      'unknown_schema',
    );
    expect(reader.read({ subject: 'events.slot.flushed', id: 'b', schema: undefined, data: flushed })).toBe('applied');
    expect(reader.read({ subject: 'events.policy.changed', id: 'c', schema: undefined, data: flushed })).toBe('not_projected');
  });

  it('remembers the last `capacity` ids', () => {
    const ids = new RecentIds(2);
    expect([ids.firstTime('a'), ids.firstTime('b'), ids.firstTime('a')]).toEqual([true, true, false]);
    ids.firstTime('c');
    expect(ids.firstTime('a')).toBe(true);
  });
});
