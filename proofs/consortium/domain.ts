/**
 * Constants of the consortium chain's commitment scheme: the hash, the Merkle scheme and
 * the domain tags that keep each signed or hashed structure from being read as another.
 */
import { keccak256 as fastKeccak256 } from "../keccak.ts";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { KECCAK256_RFC6962 } from "../merkle.ts";
import { KECCAK256_SPARSE } from "../sparse-merkle.ts";
import { type Hex, toHex } from "../hex.ts";

export function keccak256(data: Uint8Array): Uint8Array {
  return fastKeccak256(data);
}

export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

function tag(name: string): Hex {
  return toHex(keccak256(new TextEncoder().encode(name)));
}

export const CONSORTIUM_SCHEME = Object.freeze({
  /** Per-block lists (txRoot, resultsRoot): RFC 6962 trees over sorted entries. */
  merkle: KECCAK256_RFC6962,
  /** The state (stateRoot): a sparse Merkle tree over keccak256(key) paths. */
  state: KECCAK256_SPARSE,
  /** Each tag is keccak256 of its ASCII name, the first field of the encoding it separates. */
  tags: Object.freeze({
    header: tag("isthmus.consortium.header.v1"),
    vote: tag("isthmus.consortium.vote.v1"),
    tx: tag("isthmus.consortium.tx.v1"),
    validators: tag("isthmus.consortium.validators.v1"),
  }),
});

export const ZERO_HASH: Hex = `0x${"00".repeat(32)}`;
export const ZERO_ADDRESS: Hex = `0x${"00".repeat(20)}`;
