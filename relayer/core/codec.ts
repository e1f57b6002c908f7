import type { Swap } from "./swap.ts";

/** JSON with bigints as tagged strings, so amounts survive storage and transport exactly. */
const BIGINT_TAG = "bigint:";

export function encodeSwap(swap: Swap): string {
  return JSON.stringify(swap, (_k, v) => (typeof v === "bigint" ? BIGINT_TAG + v.toString() : v));
}

export function decodeSwap(text: string): Swap {
  return JSON.parse(text, (_k, v) => (typeof v === "string" && v.startsWith(BIGINT_TAG) ? BigInt(v.slice(BIGINT_TAG.length)) : v)) as Swap;
}

/** Plain JSON view for APIs and the CLI: bigints become decimal strings. */
export function toPlainJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
}
