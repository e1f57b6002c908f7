import assert from "node:assert/strict";
import { KECCAK256_RFC6962, KvMerkleTree } from "../../../proofs/merkle.ts";
import { keccak256 } from "../../../proofs/consortium/domain.ts";
import { toHex } from "../../../proofs/hex.ts";
import { type EncodedTxOutcome, resultKey, resultsEntries, resultsRoot, txKey, txRoot, txRootOfHashes } from "../../../proofs/consortium/results.ts";

// txRoot and resultsRoot are computed from cached key hashes and tx hashes for speed; they
// must stay exactly the key-value Merkle maps the module comment defines.
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe("consortium list roots", () => {
  for (const count of [0, 1, 2, 3, 7, 64, 1000, 4100]) {
    it(`txRoot of ${count} txs is the key-value map index -> tx bytes`, () => {
      const txs = Array.from({ length: count }, (_, i) => bytes(200 + (i % 50), i));
      const expected = toHex(KvMerkleTree.build(KECCAK256_RFC6962, txs.map((t, i) => ({ key: txKey(i), value: t }))).root);
      assert.equal(txRoot(txs), expected);
      assert.equal(txRootOfHashes(txs.map(keccak256)), expected);
      // The cached key hashes are reused on a second block.
      assert.equal(txRoot(txs), expected);
    });
  }

  it("txRoot changes with any tx byte", () => {
    const txs = [bytes(100, 1), bytes(100, 2)];
    const flipped = [txs[0]!, Uint8Array.from(txs[1]!, (b, i) => (i === 50 ? b ^ 1 : b))];
    assert.notEqual(txRoot(txs), txRoot(flipped));
  });

  it("resultsRoot is the key-value map (tx, slot) -> result or event", () => {
    for (const count of [0, 1, 5, 4100]) {
      const outcomes: EncodedTxOutcome[] = Array.from({ length: count }, (_, i) => ({
        result: bytes(224, i),
        events: Array.from({ length: i % 4 }, (_, j) => bytes(96 + j, i + j)),
      }));
      const expected = toHex(KvMerkleTree.build(KECCAK256_RFC6962, resultsEntries(outcomes)).root);
      assert.equal(resultsRoot(outcomes), expected, `${count} outcomes`);
    }
    // Keys as the module comment defines them.
    assert.deepEqual(resultKey(2, 3), Uint8Array.of(0, 0, 0, 2, 0, 0, 0, 3));
  });
});
