/**
 * Protobuf wire encoding of messages whose fields are length-delimited (bytes, strings,
 * embedded messages) or unsigned varints (uint64 below 2^53, bools): the read/write set, the
 * endorsement and the prepared transaction, which the endorsers build for every proposal.
 * Built straight into bytes instead of through google-protobuf objects (one object and one
 * serialization per nesting level), with the bytes google-protobuf's serializeBinary gives
 * (test/unit/fabric/protowire.test.ts): fields in the order given (callers give field-number
 * order), an empty bytes or string field and a zero or false varint left out as proto3 does,
 * an embedded message written whenever it is set, even when empty.
 */

/** [field number, value, written even when empty (an embedded message that is set)] */
export type LenField = readonly [field: number, value: Uint8Array | string | number | boolean, always?: boolean];

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

function writeVarint(out: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[at++] = n;
  return at;
}

/** The message's bytes. Field numbers must be 1..2^28 (callers pass constants). */
export function encodeMessage(fields: readonly LenField[]): Buffer {
  const values: (Uint8Array | number)[] = [];
  const tags: number[] = [];
  let size = 0;
  for (const [field, value, always] of fields) {
    if (typeof value === "number" || typeof value === "boolean") {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`field ${field}: ${n} is not an unsigned safe integer`);
      if (n === 0) continue;
      const tag = field * 8; // wire type 0: varint
      tags.push(tag);
      values.push(n);
      size += varintSize(tag) + varintSize(n);
      continue;
    }
    const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
    if (bytes.length === 0 && !always) continue;
    const tag = field * 8 + 2; // wire type 2: length-delimited
    tags.push(tag);
    values.push(bytes);
    size += varintSize(tag) + varintSize(bytes.length) + bytes.length;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    at = writeVarint(out, at, tags[i]!);
    if (typeof v === "number") {
      at = writeVarint(out, at, v);
      continue;
    }
    at = writeVarint(out, at, v.length);
    out.set(v, at);
    at += v.length;
  }
  return out;
}
