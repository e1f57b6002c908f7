/**
 * Recursive Length Prefix (Yellow Paper, Appendix B). Strict decoding: only the canonical
 * encoding of a value is accepted, so one value has exactly one byte string and a proof
 * cannot be re-encoded into a second accepted form. Untrusted bytes never throw:
 * `decodeRlp` returns `{ ok: false, reason }`.
 */

/** A decoded item: a byte string, or a list of items. */
export type RlpItem = Uint8Array | readonly RlpItem[];

export type RlpDecoded = { readonly ok: true; readonly item: RlpItem } | { readonly ok: false; readonly reason: string };

/** Bound on list nesting, so hostile input cannot exhaust the stack. MPT nodes nest at most 3 deep. */
const MAX_DEPTH = 16;

export function decodeRlp(bytes: Uint8Array): RlpDecoded {
  if (!(bytes instanceof Uint8Array)) throw new TypeError("decodeRlp: expected a Uint8Array");
  const r = decodeAt(bytes, 0, bytes.length, 0);
  if (typeof r === "string") return { ok: false, reason: r };
  if (r.end !== bytes.length) return { ok: false, reason: `${bytes.length - r.end} trailing byte(s) after the RLP item` };
  return { ok: true, item: r.item };
}

type Step = { item: RlpItem; end: number } | string;

function decodeAt(b: Uint8Array, at: number, limit: number, depth: number): Step {
  if (at >= limit) return "RLP input ends before an item";
  const p = b[at]!;
  // YP B: a single byte in [0x00, 0x7f] is its own encoding.
  if (p < 0x80) return { item: b.subarray(at, at + 1), end: at + 1 };
  if (p < 0xb8) {
    // YP B (eq. 180): a 0-55 byte string is 0x80+len, then the bytes.
    const len = p - 0x80;
    const end = at + 1 + len;
    if (end > limit) return "RLP string runs past the end of its input";
    if (len === 1 && b[at + 1]! < 0x80) return "non-canonical RLP: single byte below 0x80 given a length prefix";
    return { item: b.subarray(at + 1, end), end };
  }
  if (p < 0xc0) {
    const long = readLength(b, at + 1, p - 0xb7, limit);
    if (typeof long === "string") return long;
    const end = long.start + long.len;
    if (end > limit) return "RLP string runs past the end of its input";
    return { item: b.subarray(long.start, end), end };
  }
  if (depth >= MAX_DEPTH) return `RLP lists nest deeper than ${MAX_DEPTH}`;
  let start: number;
  let end: number;
  if (p < 0xf8) {
    // YP B (eq. 183): a list whose payload is 0-55 bytes is 0xc0+len, then the payload.
    start = at + 1;
    end = start + (p - 0xc0);
  } else {
    const long = readLength(b, at + 1, p - 0xf7, limit);
    if (typeof long === "string") return long;
    start = long.start;
    end = start + long.len;
  }
  if (end > limit) return "RLP list runs past the end of its input";
  const items: RlpItem[] = [];
  let cursor = start;
  while (cursor < end) {
    const r = decodeAt(b, cursor, end, depth + 1);
    if (typeof r === "string") return r;
    items.push(r.item);
    cursor = r.end;
  }
  return { item: items, end };
}

/** Long form: `n` big-endian length bytes, no leading zero, and the length must exceed 55. */
function readLength(b: Uint8Array, at: number, n: number, limit: number): { start: number; len: number } | string {
  if (at + n > limit) return "RLP length prefix runs past the end of its input";
  if (b[at] === 0) return "non-canonical RLP: length has a leading zero byte";
  if (n > 6) return "RLP length does not fit in 48 bits";
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + b[at + i]!;
  if (len < 56) return "non-canonical RLP: long form used for a length below 56";
  return { start: at + n, len };
}

/** Canonical RLP of an item (YP B). */
export function encodeRlp(item: RlpItem): Uint8Array {
  if (item instanceof Uint8Array) {
    if (item.length === 1 && item[0]! < 0x80) return item.slice();
    return concat([lengthPrefix(item.length, 0x80), item]);
  }
  if (!Array.isArray(item)) throw new TypeError("encodeRlp: expected a Uint8Array or an array");
  const parts = item.map(encodeRlp);
  const payload = concat(parts);
  return concat([lengthPrefix(payload.length, 0xc0), payload]);
}

function lengthPrefix(len: number, offset: number): Uint8Array {
  if (len < 56) return Uint8Array.of(offset + len);
  const be: number[] = [];
  for (let n = len; n > 0; n = Math.floor(n / 256)) be.unshift(n % 256);
  return Uint8Array.of(offset + 55 + be.length, ...be);
}

/** Big-endian bytes of a non-negative integer without leading zeros (YP 4.2 "scalar"); 0 is empty. */
export function encodeScalar(v: bigint): Uint8Array {
  if (typeof v !== "bigint" || v < 0n) throw new TypeError(`encodeScalar: expected a non-negative bigint, got ${String(v)}`);
  let hex = v === 0n ? "" : v.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The integer a scalar encodes, or a reason when it is not canonical (leading zero) or longer than `maxBytes`. */
export function decodeScalar(bytes: Uint8Array, maxBytes = 32): { ok: true; value: bigint } | { ok: false; reason: string } {
  if (bytes.length > maxBytes) return { ok: false, reason: `integer of ${bytes.length} bytes exceeds ${maxBytes}` };
  if (bytes.length > 0 && bytes[0] === 0) return { ok: false, reason: "integer has a leading zero byte" };
  let v = 0n;
  for (const x of bytes) v = (v << 8n) | BigInt(x);
  return { ok: true, value: v };
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
