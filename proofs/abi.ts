/**
 * The small subset of the Solidity ABI tuple encoding (`abi.encode`) that Isthmus commits
 * to: static words and `string`/`bytes` tails. Solidity ABI spec, "Formal Specification of
 * the Encoding": a tuple is its heads (a 32-byte word per static value, a byte offset from
 * the tuple start per dynamic value) followed by the tails (uint256 length, data padded
 * right with zeros to a 32-byte multiple).
 *
 * `abiDecode` is strict: it accepts only the one canonical encoding (it re-encodes and
 * compares), so decoded bytes hash the same as freshly encoded ones.
 */
import { type Hex, isHex, fromHex, toHex, equalBytes, concatBytes } from "./hex.ts";

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

/** `abi.encode(values...)` for the given types; throws on values that do not fit (misuse). */
export function abiEncode<const T extends readonly AbiType[]>(types: T, values: AbiInputs<T>): Uint8Array {
  if (types.length !== values.length) throw new TypeError(`abiEncode: ${types.length} types but ${values.length} values`);
  const heads: Uint8Array[] = [];
  const tails: Uint8Array[] = [];
  let tailOffset = types.length * WORD;
  types.forEach((type, i) => {
    const value: unknown = values[i];
    const label = `value ${i} (${type})`;
    if (isDynamic(type)) {
      const data = type === "string" ? encodeString(value, label) : encodeBytes(value, label);
      const tail = concatBytes(uintWord(BigInt(data.length)), padRight(data));
      heads.push(uintWord(BigInt(tailOffset)));
      tails.push(tail);
      tailOffset += tail.length;
    } else {
      heads.push(encodeStatic(type, value, label));
    }
  });
  return concatBytes(...heads, ...tails);
}

/** Inverse of `abiEncode`; returns a reason instead of throwing on bad or non-canonical bytes. */
export function abiDecode<const T extends readonly AbiType[]>(types: T, data: Uint8Array): AbiDecodeResult<AbiOutputs<T>> {
  if (!(data instanceof Uint8Array)) throw new TypeError("abiDecode: data must be a Uint8Array");
  if (data.length < types.length * WORD) return { ok: false, reason: `too short: ${data.length} bytes for ${types.length} fields` };
  const values: unknown[] = [];
  for (let i = 0; i < types.length; i++) {
    const type = types[i]!;
    const head = data.subarray(i * WORD, (i + 1) * WORD);
    const decoded = isDynamic(type) ? decodeTail(type, data, head) : decodeStatic(type, head);
    if (decoded instanceof Bad) {
      return { ok: false, reason: `field ${i} (${type}): ${decoded.reason}` };
    }
    values.push(decoded);
  }
  const again = abiEncode(types, values as unknown as AbiInputs<T>);
  if (!equalBytes(again, data)) return { ok: false, reason: "non-canonical encoding" };
  return { ok: true, values: values as AbiOutputs<T> };
}

// --- static words -------------------------------------------------------------------------

function encodeStatic(type: AbiType, value: unknown, label: string): Uint8Array {
  switch (type) {
    case "address": {
      if (typeof value !== "string") throw new TypeError(`${label}: expected 0x-hex address`);
      const word = new Uint8Array(WORD);
      word.set(fromHex(value, label, 20), 12);
      return word;
    }
    case "bool":
      if (typeof value !== "boolean") throw new TypeError(`${label}: expected boolean`);
      return uintWord(value ? 1n : 0n);
    case "bytes32":
      if (value instanceof Uint8Array) {
        if (value.length !== 32) throw new TypeError(`${label}: expected 32 bytes, got ${value.length}`);
        return value.slice();
      }
      if (typeof value !== "string") throw new TypeError(`${label}: expected 32-byte hex`);
      return fromHex(value, label, 32);
    default: {
      const bits = UINT_BITS[type]!;
      const n = typeof value === "number" && Number.isSafeInteger(value) ? BigInt(value) : value;
      if (typeof n !== "bigint" || n < 0n || n >= 1n << BigInt(bits)) {
        throw new RangeError(`${label}: expected an integer in [0, 2^${bits}), got ${String(value)}`);
      }
      return uintWord(n);
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

function uintWord(n: bigint): Uint8Array {
  const word = new Uint8Array(WORD);
  for (let i = WORD - 1; i >= 0 && n > 0n; i--) {
    word[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return word;
}

function wordToBigint(word: Uint8Array): bigint {
  let n = 0n;
  for (const b of word) n = (n << 8n) | BigInt(b);
  return n;
}

function padRight(data: Uint8Array): Uint8Array {
  const padded = new Uint8Array(Math.ceil(data.length / WORD) * WORD);
  padded.set(data);
  return padded;
}
