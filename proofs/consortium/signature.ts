/**
 * Ethereum-compatible secp256k1 signatures over raw 32-byte digests: 65 bytes r || s || v
 * with v = 27 + recovery id, exactly what Solidity's `ecrecover(digest, v, r, s)` takes.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak256 } from "./domain.ts";
import { type Hex, toHex } from "../hex.ts";

const N = secp256k1.Point.Fn.ORDER;
const HALF_N = N >> 1n;

export type RecoverResult = { readonly ok: true; readonly address: Hex } | { readonly ok: false; readonly reason: string };

/** Ethereum address of an uncompressed (65-byte, 0x04-prefixed) public key: last 20 bytes of keccak256(x || y). */
export function addressOfPublicKey(publicKey: Uint8Array): Hex {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 65 || publicKey[0] !== 0x04) {
    throw new TypeError("publicKey: expected 65-byte uncompressed secp256k1 key");
  }
  return toHex(keccak256(publicKey.subarray(1)).subarray(12));
}

/** The address that signed `digest`, or why the signature is unusable. */
export function recoverAddress(digest: Uint8Array, signature: Uint8Array): RecoverResult {
  if (!(digest instanceof Uint8Array) || digest.length !== 32) throw new TypeError("digest: expected 32 bytes");
  if (!(signature instanceof Uint8Array) || signature.length !== 65) return { ok: false, reason: "signature is not 65 bytes" };
  const v = signature[64]!;
  if (v !== 27 && v !== 28) return { ok: false, reason: `signature v is ${v}, expected 27 or 28` };
  const r = toBigint(signature.subarray(0, 32));
  const s = toBigint(signature.subarray(32, 64));
  if (r < 1n || r >= N) return { ok: false, reason: "signature r out of range" };
  // EIP-2 / OpenZeppelin ECDSA: only low-s, so each signature has a single valid encoding.
  if (s < 1n || s > HALF_N) return { ok: false, reason: "signature s out of range (high-s)" };
  try {
    const point = new secp256k1.Signature(r, s, v - 27).recoverPublicKey(digest);
    return { ok: true, address: addressOfPublicKey(point.toBytes(false)) };
  } catch {
    return { ok: false, reason: "signature does not recover a public key" };
  }
}

function toBigint(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}
