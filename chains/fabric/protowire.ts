/**
 * Protobuf wire encoding of messages whose fields are length-delimited (bytes, strings,
 * embedded messages) or unsigned varints (uint64 below 2^53, bools): the read/write set, the
 * endorsement and the prepared transaction, which the endorsers build for every proposal.
 * Built straight into bytes instead of through google-protobuf objects (one object and one
 * serialization per nesting level), with the bytes google-protobuf's serializeBinary gives
 * (test/unit/fabric/protowire.test.ts): fields in the order given (callers give field-number
 * order), an empty bytes or string field and a zero or false varint left out as proto3 does,
 * an embedded message written whenever it is set, even when empty. One exception: strings are
 * written as Buffer's UTF-8, so a lone surrogate becomes U+FFFD (EF BF BD) where
 * google-protobuf 3.21 drops a high surrogate that is followed by anything but a low one and
 * writes any other lone surrogate in its 3-byte form (ED A0 80 for U+D800); both endorsers and the committer use this encoder, and SQLite
 * stores a key under the same bytes, so the network agrees with itself.
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
  // two passes over the fields (sizes, then bytes) with no per-field allocation: this runs
  // some forty times per transaction
  let size = 0;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    const value = f[1];
    if (typeof value === "number" || typeof value === "boolean") {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`field ${f[0]}: ${n} is not an unsigned safe integer`);
      if (n !== 0) size += varintSize(f[0] * 8) + varintSize(n);
      continue;
    }
    const len = typeof value === "string" ? Buffer.byteLength(value, "utf8") : value.length;
    if (len !== 0 || f[2]) size += varintSize(f[0] * 8 + 2) + varintSize(len) + len;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    const value = f[1];
    if (typeof value === "number" || typeof value === "boolean") {
      const n = Number(value);
      if (n === 0) continue;
      at = writeVarint(out, at, f[0] * 8); // wire type 0: varint
      at = writeVarint(out, at, n);
      continue;
    }
    if (typeof value === "string") {
      const len = Buffer.byteLength(value, "utf8");
      if (len === 0 && !f[2]) continue;
      at = writeVarint(out, at, f[0] * 8 + 2); // wire type 2: length-delimited
      at = writeVarint(out, at, len);
      at += out.write(value, at, "utf8");
      continue;
    }
    if (value.length === 0 && !f[2]) continue;
    at = writeVarint(out, at, f[0] * 8 + 2);
    at = writeVarint(out, at, value.length);
    out.set(value, at);
    at += value.length;
  }
  return out;
}
