/**
 * The small subset of the Solidity ABI tuple encoding (`abi.encode`) that Isthmus commits
 * to: static words and `string`/`bytes` tails. Solidity ABI spec, "Formal Specification of
 * the Encoding": a tuple is its heads (a 32-byte word per static value, a byte offset from
 * the tuple start per dynamic value) followed by the tails (uint256 length, data padded
 * right with zeros to a 32-byte multiple).
 *
 * `abiDecode` is strict: it accepts only the one canonical encoding (the bytes `abiEncode`
 * would write for the decoded values), so decoded bytes hash the same as freshly encoded ones.
 */
import { type Hex, isHex, fromHex, toHex } from "./hex.ts";

export type AbiType = "address" | "bool" | "bytes32" | "uint8" | "uint32" | "uint64" | "uint256" | "string" | "bytes";

export type AbiInput<T extends AbiType> = T extends "address"
  ? string
  : T extends "bool"
    ? boolean
    : T extends "bytes32"
      ? string | Uint8Array
      : T extends "string"
        ? string
        : T extends "bytes"
          ? Uint8Array
          : bigint | number;

export type AbiOutput<T extends AbiType> = T extends "address" | "bytes32"
  ? Hex
  : T extends "bool"
    ? boolean
    : T extends "string"
      ? string
      : T extends "bytes"
        ? Uint8Array
        : bigint;

export type AbiInputs<T extends readonly AbiType[]> = { readonly [K in keyof T]: T[K] extends AbiType ? AbiInput<T[K]> : never };
export type AbiOutputs<T extends readonly AbiType[]> = { -readonly [K in keyof T]: T[K] extends AbiType ? AbiOutput<T[K]> : never };

export type AbiDecodeResult<V> = { readonly ok: true; readonly values: V } | { readonly ok: false; readonly reason: string };

const WORD = 32;

/** A decoding failure, distinguishable from any decoded value. */
class Bad {
  constructor(readonly reason: string) {}
}
const UINT_BITS: Partial<Record<AbiType, number>> = { uint8: 8, uint32: 32, uint64: 64, uint256: 256 };
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function isDynamic(type: AbiType): boolean {
  return type === "string" || type === "bytes";
}

/**
 * `abi.encode(values...)` for the given types; throws on values that do not fit (misuse).
 * Written straight into one buffer (sized first): encoding runs several times per
 * transaction on a validator (results, events, state values, strict decoding).
 */
export function abiEncode<const T extends readonly AbiType[]>(types: T, values: AbiInputs<T>): Uint8Array {
  if (types.length !== values.length) throw new TypeError(`abiEncode: ${types.length} types but ${values.length} values`);
  const n = types.length;
  let size = n * WORD;
  const dynamic: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(n);
  for (let i = 0; i < n; i++) {
    const type = types[i]!;
    if (!isDynamic(type)) continue;
    const label = `value ${i} (${type})`;
    const data = type === "string" ? encodeString(values[i], label) : encodeBytes(values[i], label);
    dynamic[i] = data;
    size += WORD + paddedLength(data.length);
  }
  const out = new Uint8Array(size);
  let tailOffset = n * WORD;
  for (let i = 0; i < n; i++) {
    const data = dynamic[i];
    if (data) {
      writeUint(out, i * WORD, tailOffset);
      writeUint(out, tailOffset, data.length);
      out.set(data, tailOffset + WORD);
      tailOffset += WORD + paddedLength(data.length);
    } else {
      const type = types[i]!;
      writeStatic(out, i * WORD, type, values[i], `value ${i} (${type})`);
    }
  }
  return out;
}

/** Inverse of `abiEncode`; returns a reason instead of throwing on bad or non-canonical bytes. */
export function abiDecode<const T extends readonly AbiType[]>(types: T, data: Uint8Array): AbiDecodeResult<AbiOutputs<T>> {
  if (!(data instanceof Uint8Array)) throw new TypeError("abiDecode: data must be a Uint8Array");
  if (data.length < types.length * WORD) return { ok: false, reason: `too short: ${data.length} bytes for ${types.length} fields` };
  const values: unknown[] = [];
  // Canonical means what abiEncode writes: each tail right after the previous one (the
  // first after the heads), zero padding, nothing after the last; static words are checked
  // by decodeStatic (zero high bytes, in range), strings by the fatal UTF-8 decoder. Checked
  // directly instead of by re-encoding (decoding runs several times per transaction).
  let nextTail = types.length * WORD;
  for (let i = 0; i < types.length; i++) {
    const type = types[i]!;
    const head = data.subarray(i * WORD, (i + 1) * WORD);
    const decoded = isDynamic(type) ? decodeTail(type, data, head) : decodeStatic(type, head);
    if (decoded instanceof Bad) {
      return { ok: false, reason: `field ${i} (${type}): ${decoded.reason}` };
    }
    if (isDynamic(type)) {
      const at = Number(wordToBigint(head)); // decodeTail checked the bounds
      if (at !== nextTail) return NON_CANONICAL;
      const length = Number(wordToBigint(data.subarray(at, at + WORD)));
      const end = at + WORD + length;
      nextTail = at + WORD + paddedLength(length);
      if (nextTail > data.length) return NON_CANONICAL;
      for (let k = end; k < nextTail; k++) if (data[k] !== 0) return NON_CANONICAL;
    }
    values.push(decoded);
  }
  if (nextTail !== data.length) return NON_CANONICAL;
  return { ok: true, values: values as AbiOutputs<T> };
}

const NON_CANONICAL = Object.freeze({ ok: false as const, reason: "non-canonical encoding" });

// --- static words -------------------------------------------------------------------------

function writeStatic(out: Uint8Array, at: number, type: AbiType, value: unknown, label: string): void {
  switch (type) {
    case "address": {
      if (typeof value !== "string") throw new TypeError(`${label}: expected 0x-hex address`);
      out.set(fromHex(value, label, 20), at + 12);
      return;
    }
    case "bool":
      if (typeof value !== "boolean") throw new TypeError(`${label}: expected boolean`);
      if (value) out[at + WORD - 1] = 1;
      return;
    case "bytes32":
      if (value instanceof Uint8Array) {
        if (value.length !== 32) throw new TypeError(`${label}: expected 32 bytes, got ${value.length}`);
        out.set(value, at);
        return;
      }
      if (typeof value !== "string") throw new TypeError(`${label}: expected 32-byte hex`);
      out.set(fromHex(value, label, 32), at);
      return;
    default: {
      const bits = UINT_BITS[type]!;
      // Safe integers (nonces, heights, times, lengths) skip BigInt altogether.
      if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0 && (bits > 53 || value < 2 ** bits)) {
        writeUint(out, at, value);
        return;
      }
      const n = typeof value === "number" && Number.isSafeInteger(value) ? BigInt(value) : value;
      if (typeof n !== "bigint" || n < 0n || n >= 1n << BigInt(bits)) {
        throw new RangeError(`${label}: expected an integer in [0, 2^${bits}), got ${String(value)}`);
      }
      writeUint(out, at, n);
    }
  }
}

function decodeStatic(type: AbiType, word: Uint8Array): unknown {
  switch (type) {
    case "address":
      if (!word.subarray(0, 12).every((b) => b === 0)) return new Bad("address has non-zero high bytes");
      return toHex(word.subarray(12));
    case "bool": {
      const n = wordToBigint(word);
      if (n > 1n) return new Bad("bool is neither 0 nor 1");
      return n === 1n;
    }
    case "bytes32":
      return toHex(word);
    default: {
      const n = wordToBigint(word);
      if (n >= 1n << BigInt(UINT_BITS[type]!)) return new Bad("integer out of range");
      return n;
    }
  }
}

// --- dynamic tails ------------------------------------------------------------------------

function decodeTail(type: AbiType, data: Uint8Array, head: Uint8Array): unknown {
  const offset = wordToBigint(head);
  if (offset + BigInt(WORD) > BigInt(data.length)) return new Bad("offset out of bounds");
  const at = Number(offset);
  const length = wordToBigint(data.subarray(at, at + WORD));
  if (BigInt(at + WORD) + length > BigInt(data.length)) return new Bad("length out of bounds");
  const bytes = data.slice(at + WORD, at + WORD + Number(length));
  if (type === "bytes") return bytes;
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    return new Bad("invalid UTF-8");
  }
}

function encodeString(value: unknown, label: string): Uint8Array {
  if (typeof value !== "string") throw new TypeError(`${label}: expected string`);
  return utf8Encoder.encode(value);
}

function encodeBytes(value: unknown, label: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (isHex(value)) return fromHex(value, label);
  throw new TypeError(`${label}: expected Uint8Array`);
}

// --- words --------------------------------------------------------------------------------

/** Writes `n` (non-negative, below 2^256: callers checked) as the big-endian word at `at`. */
function writeUint(out: Uint8Array, at: number, n: number | bigint): void {
  if (typeof n === "number" || n <= BigInt(Number.MAX_SAFE_INTEGER)) {
    const v = Number(n);
    const hi = Math.floor(v / 0x1_0000_0000);
    const lo = v >>> 0;
    out[at + 24] = hi >>> 24;
    out[at + 25] = (hi >>> 16) & 0xff;
    out[at + 26] = (hi >>> 8) & 0xff;
    out[at + 27] = hi & 0xff;
    out[at + 28] = lo >>> 24;
    out[at + 29] = (lo >>> 16) & 0xff;
    out[at + 30] = (lo >>> 8) & 0xff;
    out[at + 31] = lo & 0xff;
    return;
  }
  const hex = n.toString(16).padStart(2 * WORD, "0");
  for (let i = 0; i < WORD; i++) out[at + i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
}

function wordToBigint(word: Uint8Array): bigint {
  // Most words are small (lengths, offsets, nonces, amounts below 2^64).
  for (let i = 0; i < 24; i++) if (word[i] !== 0) return BigInt(toHex(word.subarray(0, WORD)));
  const hi = ((word[24]! << 24) | (word[25]! << 16) | (word[26]! << 8) | word[27]!) >>> 0;
  const lo = ((word[28]! << 24) | (word[29]! << 16) | (word[30]! << 8) | word[31]!) >>> 0;
  return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

function paddedLength(length: number): number {
  return Math.ceil(length / WORD) * WORD;
}
