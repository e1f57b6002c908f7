/**
 * keccak-256 (Ethereum's, not FIPS SHA3-256) for the hot paths: Merkle nodes and leaves,
 * transaction and header hashes. js-sha3 (pure JS, no dependencies, runs in browsers) is
 * about 2x @noble/hashes' keccak on the 32-65 byte inputs that dominate a proof here (see
 * `npm run bench`: primitivesPerSec); a consortium state proof is one keccak per tree level,
 * so this sets its rate. OpenSSL (node:crypto) offers only SHA3, not keccak.
 * test/unit/proofs/keccak.test.ts checks it against @noble/hashes on every length class.
 */
import sha3 from "js-sha3";

export function keccak256(data: Uint8Array): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new TypeError("keccak256: expected Uint8Array");
  return new Uint8Array(sha3.keccak256.arrayBuffer(data));
}
