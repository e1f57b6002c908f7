/**
 * Keys held by this process: sign raw digests as 65-byte r || s || v (v = 27/28),
 * the format proofs/consortium/signature.ts recovers and Solidity's ecrecover accepts.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { InvalidInputError } from "../errors.ts";
import { type Hex, fromHex, isHex, toHex } from "../../proofs/hex.ts";
import { addressOfPublicKey, recoverAddress, type RecoverResult } from "../../proofs/consortium/signature.ts";
import { keccak256 } from "../../proofs/consortium/domain.ts";

export class Signer {
  readonly address: Hex;
  readonly #secretKey: Uint8Array;

  private constructor(secretKey: Uint8Array) {
    this.#secretKey = secretKey;
    this.address = addressOfPublicKey(secp256k1.getPublicKey(secretKey, false));
  }

  static fromPrivateKey(privateKey: string): Signer {
    if (!isHex(privateKey, 32)) throw new InvalidInputError("privateKey", "expected 32-byte 0x-hex");
    const key = fromHex(privateKey, "privateKey", 32);
    if (!secp256k1.utils.isValidSecretKey(key)) throw new InvalidInputError("privateKey", "not a valid secp256k1 secret key");
    return new Signer(key);
  }

  /** RFC 6979 deterministic, low-s signature of a 32-byte digest (no message prefix). */
  sign(digest: Uint8Array): Uint8Array {
    if (digest.length !== 32) throw new TypeError("digest: expected 32 bytes");
    const rec = secp256k1.sign(digest, this.#secretKey, { prehash: false, format: "recovered" });
    const out = new Uint8Array(65);
    out.set(rec.subarray(1, 65), 0);
    out[64] = 27 + rec[0]!;
    return out;
  }

  signHex(digest: Uint8Array): Hex {
    return toHex(this.sign(digest));
  }

  toJSON(): { address: Hex } {
    return { address: this.address };
  }
}

/**
 * Deterministic keys from a seed: keccak256("<seed>/<index>"), re-hashed in the negligible
 * case it is not a valid secret key. For devnets and tests only: anyone knowing the seed has the keys.
 */
export function derivePrivateKey(seed: string, index: number): Hex {
  let key = keccak256(new TextEncoder().encode(`${seed}/${index}`));
  while (!secp256k1.utils.isValidSecretKey(key)) key = keccak256(key);
  return toHex(key);
}

const RECOVER_CACHE_SIZE = 4096;
const recoverCache = new Map<string, RecoverResult>();

/**
 * recoverAddress, memoized: every validator in a process checks the same votes, and
 * recovery is a pure function of (digest, signature).
 */
export function recoverSigner(digest: Uint8Array, signature: Uint8Array): RecoverResult {
  const key = toHex(digest) + toHex(signature).slice(2);
  const hit = recoverCache.get(key);
  if (hit) return hit;
  const result = recoverAddress(digest, signature);
  if (recoverCache.size >= RECOVER_CACHE_SIZE) recoverCache.delete(recoverCache.keys().next().value!);
  recoverCache.set(key, result);
  return result;
}
