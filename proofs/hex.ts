/**
 * 0x-hex <-> bytes for proofs/. Misuse (a caller passing a non-hex string as a trusted
 * argument) throws; `parseHex` is the non-throwing form for untrusted input.
 */
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";

export type Hex = `0x${string}`;

const HEX_RE = /^0x(?:[0-9a-fA-F]{2})*$/;

/** True for an even-length 0x-hex string (any case), optionally of exactly `byteLength` bytes. */
export function isHex(value: unknown, byteLength?: number): value is Hex {
  if (typeof value !== "string" || !HEX_RE.test(value)) return false;
  return byteLength === undefined || value.length === 2 + 2 * byteLength;
}

/** Lower-case 0x-hex of `bytes`. */
export function toHex(bytes: Uint8Array): Hex {
  return `0x${bytesToHex(bytes)}`;
}

/** Bytes of a 0x-hex string; throws naming `label` when it is not hex of the expected length. */
export function fromHex(value: string, label: string, byteLength?: number): Uint8Array {
  if (!isHex(value, byteLength)) {
    const want = byteLength === undefined ? "0x-hex" : `0x-hex of ${byteLength} bytes`;
    throw new TypeError(`${label}: expected ${want}, got ${describe(value)}`);
  }
  return hexToBytes(value.slice(2));
}

/** Bytes of untrusted hex, or undefined. */
export function parseHex(value: unknown, byteLength?: number): Uint8Array | undefined {
  return isHex(value, byteLength) ? hexToBytes(value.slice(2)) : undefined;
}

/** Canonical (lower-case) form of a hex string; throws naming `label` on non-hex. */
export function normalizeHex(value: string, label: string, byteLength?: number): Hex {
  return toHex(fromHex(value, label, byteLength));
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function describe(value: unknown): string {
  if (typeof value !== "string") return typeof value;
  return value.length > 20 ? `"${value.slice(0, 20)}…" (${value.length} chars)` : `"${value}"`;
}
