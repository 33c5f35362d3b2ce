import { create, DecideRequestSchema, fromBinary, SlotBatchSchema, toBinary } from '#libs/contracts';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from 'vitest';
import { readDecideRequest, WireFormatError } from './decide-reader.js';
import { seededRandom } from './random.js';
import type { SlotFeatures } from './types.js';
import { encodeSlotBatch } from './wire.js';

/** The same view built from protobuf-es's decoding: the reference the reader must match. */
function reference(bytes: Uint8Array) {
  const request = fromBinary(DecideRequestSchema, bytes);
  const b = request.slots ?? create(SlotBatchSchema);
  const features: SlotFeatures[] = b.size.map((size, i) => ({
    size,
    ageMs: b.ageMs[i]!,
    upstreamP99Ms: b.upstreamP99Ms[i]!,
    requestRate: b.requestRate[i]!,
    queueDepth: b.queueDepth[i]!,
    observedP99Ms: b.observedP99Ms[i]!,
    idleMs: b.idleMs[i]!,
    batchTimeoutMs: b.batchTimeoutMs[i]!,
    maxBatchSize: b.maxBatchSize[i]!,
  }));
  const byRoute = new Map<string, number[]>();
  b.routeIndex.forEach((r, i) => byRoute.set(b.routes[r] ?? '', [...(byRoute.get(b.routes[r] ?? '') ?? []), i]));
  return { coordinatorId: request.coordinatorId, features, byRoute };
}

function randomRequest(random: () => number, count: number): Uint8Array {
  const routes = ['api', 'img', 'ünïcode/route', ''];
  const slots = Array.from({ length: count }, (_, i) => ({
    slotId: `slot-${i}`,
    route: routes[Math.floor(random() * routes.length)]!,
    features: {
      size: Math.floor(random() * 2 ** 20),
      ageMs: random() * 50,
      upstreamP99Ms: random() * 1e4,
      requestRate: random() < 0.1 ? 0 : random() * 1e5,
      queueDepth: Math.floor(random() * 2 ** 32),
      observedP99Ms: random() * 100,
      idleMs: random() * 50,
      batchTimeoutMs: 1 + Math.floor(random() * 1000),
      maxBatchSize: 1 + Math.floor(random() * 100_000),
    },
  }));
  return toBinary(DecideRequestSchema, create(DecideRequestSchema, { coordinatorId: 'coordinator-7', slots: encodeSlotBatch(slots) }));
}

describe('readDecideRequest', () => {
  it('reads what protobuf-es writes, slot by slot, for random batches of 0 to 1,000 slots', () => {
    const random = seededRandom(5);
    for (const count of [0, 1, 2, 7, 100, 333, 1000]) {
      const bytes = randomRequest(random, count);
      const view = readDecideRequest(bytes);
      expect(view).toEqual(reference(bytes));
      expect(view.features).toHaveLength(count);
    }
  });

  it('accepts unpacked and split columns and SlotBatch given twice, and skips unknown fields', () => {
    const batch = (writer: BinaryWriter, first: number) => {
      writer.tag(2, WireType.LengthDelimited).string('r');
      writer.tag(99, WireType.Varint).uint32(12345); // a field from a newer contract
      for (const field of [3, 4, 8, 11, 12]) {
        // Unpacked, one tag per value.
        writer.tag(field, WireType.Varint).uint32(field === 3 ? 0 : first + field);
        writer.tag(field, WireType.Varint).uint32(field === 3 ? 0 : first + field + 1);
      }
      for (const field of [5, 6, 7, 9, 10]) {
        // Packed, but split into two runs of one value each.
        for (const value of [first + field / 10, first + field / 10 + 0.5])
          writer.tag(field, WireType.LengthDelimited).fork().double(value).join();
      }
      return writer;
    };
    const request = new BinaryWriter();
    request.tag(7, WireType.Bit64).double(1.5); // unknown top-level field
    request.tag(1, WireType.LengthDelimited).string('c-1');
    request.tag(2, WireType.LengthDelimited).bytes(batch(new BinaryWriter(), 0).finish());
    request.tag(2, WireType.LengthDelimited).bytes(batch(new BinaryWriter(), 100).finish());
    const bytes = request.finish();
    const view = readDecideRequest(bytes);
    expect(view).toEqual(reference(bytes));
    expect(view.features.map((f) => f.size)).toEqual([4, 5, 104, 105]);
    // Routes of both chunks are one list, so the second chunk's index 0 is still "r".
    expect([...view.byRoute]).toEqual([['r', [0, 1, 2, 3]]]);
  });

  it('rejects columns of different lengths, truncated bytes and bad wire types, naming the problem', () => {
    const good = randomRequest(seededRandom(9), 3);
    const uneven = create(DecideRequestSchema, fromBinary(DecideRequestSchema, good));
    uneven.slots!.ageMs.push(3);
    expect(() => readDecideRequest(toBinary(DecideRequestSchema, uneven))).toThrow(/columns differ in length \(ageMs: 4 vs 3\)/);
    expect(() => readDecideRequest(good.subarray(0, good.length - 3))).toThrow(WireFormatError);
    expect(() => readDecideRequest(new Uint8Array([0x0b]))).toThrow(/unsupported wire type 3/);
    expect(() => readDecideRequest(new Uint8Array([0x12, 0x05, 0x22]))).toThrow(/length past the end/);
  });
});
