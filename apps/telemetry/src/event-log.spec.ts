import { create, SlotFlushedSchema, toBinary } from '#libs/contracts';
import { Registry } from '#libs/metrics';
import { describe, expect, it } from 'vitest';
import { EpisodeBook } from './episodes.js';
import { EPISODE_STEPS, EventLogReader, FLEET_STEPS } from './event-log.js';
import { FleetProjection } from './projections.js';

const flushed = toBinary(SlotFlushedSchema, create(SlotFlushedSchema, { slotId: 's1', reason: 'timeout', size: 3, ageMs: 50 }));

describe('reading the event log', () => {
  it('applies an event once per id, however often the log holds it', () => {
    const registry = new Registry();
    const reader = new EventLogReader(new FleetProjection(registry, 0), FLEET_STEPS);
    const event = { subject: 'events.slot.flushed', id: 'e1', schema: 'batchgate.v1.SlotFlushed', data: flushed };
    expect(reader.read(event)).toBe('applied');
    expect(reader.read(event)).toBe('duplicate');
    expect(reader.read({ ...event, id: 'e2' })).toBe('applied');
  });

  it('skips a version it does not know instead of misreading it; reads events from before the schema header as v1', () => {
    const reader = new EventLogReader(new FleetProjection(new Registry(), 0), FLEET_STEPS);
    expect(reader.read({ subject: 'events.slot.flushed', id: 'a', schema: 'batchgate.v2.SlotFlushed', data: flushed })).toBe(
      'unknown_schema',
    );
    expect(reader.read({ subject: 'events.slot.flushed', id: 'b', schema: undefined, data: flushed })).toBe('applied');
    expect(reader.read({ subject: 'events.policy.changed', id: 'c', schema: undefined, data: flushed })).toBe('not_projected');
  });

  it('builds one episode per flushed slot however often the log holds its events', () => {
    const book = new EpisodeBook(10);
    const reader = new EventLogReader(book, EPISODE_STEPS);
    const event = { subject: 'events.slot.flushed', id: 'e1', schema: 'batchgate.v1.SlotFlushed', data: flushed };
    expect([reader.read(event), reader.read(event)]).toEqual(['applied', 'duplicate']);
    expect(reader.read({ subject: 'events.request.completed', id: 'e2', schema: undefined, data: flushed })).toBe('not_projected');
    expect(book.episodes().map((e) => e.slot_id)).toEqual(['s1']);
  });
});
