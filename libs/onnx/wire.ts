/**
 * The protobuf wire format, just enough of it to write and read ONNX models:
 * varints, length-delimited fields, fixed 32/64-bit values. Field numbers and
 * types live with the messages in model.ts (taken from onnx/onnx.proto).
 */
export const WIRE = { varint: 0, fixed64: 1, delimited: 2, fixed32: 5 } as const;

export class ProtoWriter {
  private buffer = new Uint8Array(256);
  private length = 0;

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + extra));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  private rawVarint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`varint out of range: ${value}`);
    this.ensure(10);
    while (value >= 0x80) {
      this.buffer[this.length++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.buffer[this.length++] = value;
  }

  private tag(field: number, wireType: number): void {
    this.rawVarint(field * 8 + wireType);
  }

  varint(field: number, value: number): this {
    this.tag(field, WIRE.varint);
    this.rawVarint(value);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE.delimited);
    this.rawVarint(value.length);
    this.ensure(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE.fixed32);
    this.ensure(4);
    new DataView(this.buffer.buffer, this.buffer.byteOffset).setFloat32(this.length, value, true);
    this.length += 4;
    return this;
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

export interface ProtoField {
  field: number;
  wireType: number;
  /** Varints and fixed64 as numbers (exact up to 2^53); delimited fields as bytes. */
  value: number | Uint8Array;
}

export class ProtoFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtoFormatError';
  }
}

/** Every top-level field of one message, in order. */
export function readFields(bytes: Uint8Array): ProtoField[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: ProtoField[] = [];
  let at = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (at >= bytes.length) throw new ProtoFormatError('truncated varint');
      const byte = bytes[at++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 0x80;
    }
  };
  while (at < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wireType = key % 8;
    let value: number | Uint8Array;
    if (wireType === WIRE.varint) value = varint();
    else if (wireType === WIRE.fixed64) value = ((at += 8), view.getFloat64(at - 8, true));
    else if (wireType === WIRE.fixed32) value = ((at += 4), view.getFloat32(at - 4, true));
    else if (wireType === WIRE.delimited) {
      const length = varint();
      if (at + length > bytes.length) throw new ProtoFormatError(`field ${field} runs past the end`);
      value = bytes.subarray(at, (at += length));
    } else throw new ProtoFormatError(`unsupported wire type ${wireType} (field ${field})`);
    fields.push({ field, wireType, value });
  }
  return fields;
}

export function asBytes(f: ProtoField): Uint8Array {
  if (!(f.value instanceof Uint8Array)) throw new ProtoFormatError(`field ${f.field} is not length-delimited`);
  return f.value;
}

export function asString(f: ProtoField): string {
  return new TextDecoder().decode(asBytes(f));
}

export function asNumber(f: ProtoField): number {
  if (typeof f.value !== 'number') throw new ProtoFormatError(`field ${f.field} is not a number`);
  return f.value;
}

/** A repeated int64 field, accepting both packed and unpacked encodings. */
export function asVarints(f: ProtoField): number[] {
  if (typeof f.value === 'number') return [f.value];
  const out: number[] = [];
  let at = 0;
  while (at < f.value.length) {
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = f.value[at++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 0x80;
    }
    out.push(result);
  }
  return out;
}
