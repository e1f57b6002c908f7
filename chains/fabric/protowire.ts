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

/**
 * An embedded message written in place by the encodeMessage call that contains it, so a
 * nested message (the prepared transaction is six levels deep) is sized and written in one
 * buffer instead of one buffer and one copy per level. Its bytes are those encodeMessage
 * gives for `fields`.
 */
export class Sub {
  /** the encoded size, once computed */
  size = -1;
  constructor(readonly fields: readonly LenField[]) {}
}

/** [field number, value, written even when empty (an embedded message that is set)] */
export type LenField = readonly [field: number, value: Uint8Array | string | number | boolean | Sub, always?: boolean];

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

function subSize(sub: Sub): number {
  if (sub.size < 0) sub.size = sizeOf(sub.fields);
  return sub.size;
}

function sizeOf(fields: readonly LenField[]): number {
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
    const len = typeof value === "string" ? Buffer.byteLength(value, "utf8") : value instanceof Sub ? subSize(value) : value.length;
    if (len !== 0 || f[2]) size += varintSize(f[0] * 8 + 2) + varintSize(len) + len;
  }
  return size;
}

function writeFields(out: Buffer, at: number, fields: readonly LenField[]): number {
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
    if (value instanceof Sub) {
      const len = subSize(value);
      if (len === 0 && !f[2]) continue;
      at = writeVarint(out, at, f[0] * 8 + 2);
      at = writeVarint(out, at, len);
      at = writeFields(out, at, value.fields);
      continue;
    }
    if (value.length === 0 && !f[2]) continue;
    at = writeVarint(out, at, f[0] * 8 + 2);
    at = writeVarint(out, at, value.length);
    out.set(value, at);
    at += value.length;
  }
  return at;
}

/** The message's bytes. Field numbers must be 1..2^28 (callers pass constants). */
export function encodeMessage(fields: readonly LenField[]): Buffer {
  // two passes over the fields (sizes, then bytes) with no per-field allocation, and one
  // buffer for the whole message however deep its Subs nest: this runs some forty times per
  // transaction
  const out = Buffer.allocUnsafe(sizeOf(fields));
  writeFields(out, 0, fields);
  return out;
}

/** Bytes that are not a well-formed protobuf message (truncated, or a wire type not in proto3). */
export class WireError extends Error {
  override name = "WireError";
}

/**
 * A protobuf field reader over a message's bytes, for the few messages this network decodes on
 * every transaction without google-protobuf objects. `next()` gives each field's number and
 * wire type in turn; the caller reads the value (`varint`, `bytes`, `string`) or `skip`s it,
 * as google-protobuf skips fields it does not know.
 */
export class WireReader {
  readonly #b: Uint8Array;
  #at = 0;
  field = 0;
  wireType = 0;

  constructor(bytes: Uint8Array) {
    this.#b = bytes;
  }

  /** Moves to the next field; false at the end of the message. */
  next(): boolean {
    if (this.#at >= this.#b.length) return false;
    const tag = this.varint();
    this.field = Math.floor(tag / 8);
    this.wireType = tag % 8;
    if (this.field === 0) throw new WireError("invalid field number 0");
    return true;
  }

  /** An unsigned varint (exact below 2^53; an enum or int32 reader takes its low 32 bits). */
  varint(): number {
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.#at >= this.#b.length) throw new WireError("truncated varint");
      const byte = this.#b[this.#at++]!;
      n += (byte & 0x7f) * mul;
      if (byte < 0x80) return n;
      mul *= 0x80;
    }
    throw new WireError("varint longer than 10 bytes");
  }

  /** A length-delimited value: a view into the message's bytes, not a copy. */
  bytes(): Uint8Array {
    const len = this.varint();
    const end = this.#at + len;
    if (end > this.#b.length) throw new WireError("truncated length-delimited field");
    const v = this.#b.subarray(this.#at, end);
    this.#at = end;
    return v;
  }

  string(): string {
    const v = this.bytes();
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("utf8");
  }

  /** Passes over the current field's value. */
  skip(): void {
    switch (this.wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.#advance(8);
        return;
      case 2:
        this.bytes();
        return;
      case 5:
        this.#advance(4);
        return;
      default:
        throw new WireError(`unsupported wire type ${this.wireType}`);
    }
  }

  /** Throws unless the current field has this wire type (a known field sent with another is malformed). */
  expect(wireType: number): void {
    if (this.wireType !== wireType) throw new WireError(`field ${this.field}: wire type ${this.wireType}, expected ${wireType}`);
  }

  #advance(n: number): void {
    if (this.#at + n > this.#b.length) throw new WireError("truncated fixed-width field");
    this.#at += n;
  }
}
