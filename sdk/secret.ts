import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import type { Hex } from "../chains/ledger.ts";

/** A fresh 32-byte preimage from the platform CSPRNG (Web Crypto: Node >= 19 and every browser) and its sha256 hashlock. */
export function generateSecret(): { preimage: Hex; hashlock: Hex } {
  const bytes = new Uint8Array(32);
  globalThis.crypto.getRandomValues(bytes);
  const preimage = `0x${bytesToHex(bytes)}` as Hex;
  return { preimage, hashlock: hashlockOf(preimage) };
}

/** sha256 of the 32 preimage bytes, as every HTLC of the three ledgers computes it. */
export function hashlockOf(preimage: Hex): Hex {
  return `0x${bytesToHex(sha256(hexToBytes(preimage.slice(2))))}` as Hex;
}
