import assert from "node:assert/strict";
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import {
  KECCAK256_RFC6962,
  KvMerkleTree,
  MerkleTree,
  type MerkleScheme,
  emptyRoot,
  hashKvLeaf,
  hashLeaf,
  hashNode,
  rootFromProof,
  verifyKvProof,
  verifyMerkleProof,
} from "../../../proofs/merkle.ts";

const S = KECCAK256_RFC6962;
const leaf = (i: number) => hashLeaf(S, Uint8Array.of(i, i >> 8));

/** RFC 6962 §2.1 MTH, written recursively from the spec text. */
function mth(scheme: MerkleScheme, data: Uint8Array[]): Uint8Array {
  if (data.length === 0) return scheme.hash(new Uint8Array(0));
  if (data.length === 1) return hashLeaf(scheme, data[0]!);
  let k = 1;
  while (k * 2 < data.length) k *= 2;
  return hashNode(scheme, mth(scheme, data.slice(0, k)), mth(scheme, data.slice(k)));
}

const SHA256_RFC6962: MerkleScheme = { name: "sha256-rfc6962", hash: (d) => sha256(d), hashLength: 32, leafPrefix: 0, nodePrefix: 1 };

describe("proofs/merkle", () => {
  it("computes the RFC 6962 Merkle Tree Hash for every size 0..40 (odd nodes promoted)", () => {
    for (let n = 0; n <= 40; n++) {
      const data = Array.from({ length: n }, (_, i) => Uint8Array.of(i));
      const tree = MerkleTree.fromLeafHashes(S, data.map((d) => hashLeaf(S, d)));
      assert.deepEqual(tree.root, mth(S, data), `size ${n}`);
    }
  });

  it("matches the RFC 6962 / Certificate Transparency empty-tree hash when configured with SHA-256", () => {
    // RFC 6962 §2.1: MTH({}) = SHA-256() = e3b0c442...b855
    assert.equal(Buffer.from(emptyRoot(SHA256_RFC6962)).toString("hex"), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert.deepEqual(emptyRoot(S), keccak_256(new Uint8Array(0)));
  });

  it("proves every leaf of trees of size 1..33", () => {
    for (let n = 1; n <= 33; n++) {
      const leaves = Array.from({ length: n }, (_, i) => leaf(i));
      const tree = MerkleTree.fromLeafHashes(S, leaves);
      for (let i = 0; i < n; i++) {
        assert.deepEqual(verifyMerkleProof(S, tree.root, leaves[i]!, tree.proof(i)), { ok: true }, `leaf ${i} of ${n}`);
      }
    }
  });

  describe("rejects, with a reason, a proof that was tampered with", () => {
    const leaves = Array.from({ length: 11 }, (_, i) => leaf(i));
    const tree = MerkleTree.fromLeafHashes(S, leaves);
    const proof = tree.proof(6);
    const fails = (r: { ok: true } | { ok: false; reason: string }) => {
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, /\w/);
    };

    it("another leaf", () => fails(verifyMerkleProof(S, tree.root, leaves[5]!, proof)));
    it("a flipped bit in a sibling", () => {
      const siblings = proof.siblings.map((s) => s.slice());
      siblings[1]![0]! ^= 1;
      fails(verifyMerkleProof(S, tree.root, leaves[6]!, { ...proof, siblings }));
    });
    it("another root", () => {
      const root = tree.root.slice();
      root[31]! ^= 0x80;
      fails(verifyMerkleProof(S, root, leaves[6]!, proof));
    });
    it("a wrong index", () => fails(verifyMerkleProof(S, tree.root, leaves[6]!, { ...proof, index: 7 })));
    it("a missing sibling", () => fails(verifyMerkleProof(S, tree.root, leaves[6]!, { ...proof, siblings: proof.siblings.slice(1) })));
    it("an extra sibling", () => fails(verifyMerkleProof(S, tree.root, leaves[6]!, { ...proof, siblings: [...proof.siblings, leaves[0]!] })));
    it("a short sibling", () => fails(verifyMerkleProof(S, tree.root, leaves[6]!, { ...proof, siblings: [proof.siblings[0]!.subarray(1), ...proof.siblings.slice(1)] })));
    it("an index past the leaf count", () => fails(rootFromProof(S, leaves[6]!, { ...proof, index: 11 })));
    it("a non-array of siblings", () => fails(rootFromProof(S, leaves[6]!, { ...proof, siblings: "x" as unknown as Uint8Array[] })));
  });

  it("throws on misuse: a root that is not a hash", () => {
    const tree = MerkleTree.fromLeafHashes(S, [leaf(1)]);
    assert.throws(() => verifyMerkleProof(S, new Uint8Array(31), leaf(1), tree.proof(0)), /root/);
    assert.throws(() => tree.proof(1), RangeError);
  });

  describe("key-value maps", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const entries = ["b", "a", "ab", "c", "aa"].map((k, i) => ({ key: enc(k), value: Uint8Array.of(i) }));

    it("commits to entries sorted by key, leaf = H(0x00 || H(key) || H(value))", () => {
      const tree = KvMerkleTree.build(S, entries);
      assert.deepEqual(tree.entries.map((e) => new TextDecoder().decode(e.key)), ["a", "aa", "ab", "b", "c"]);
      const expectedLeaf = keccak_256(Uint8Array.from([0, ...keccak_256(enc("a")), ...keccak_256(Uint8Array.of(1))]));
      assert.deepEqual(hashKvLeaf(S, enc("a"), Uint8Array.of(1)), expectedLeaf);
      assert.deepEqual(KvMerkleTree.build(S, [...entries].reverse()).root, tree.root, "order of input does not matter");
    });

    it("proves a key's value and rejects a different value or key", () => {
      const tree = KvMerkleTree.build(S, entries);
      const proof = tree.proof(enc("ab"))!;
      assert.deepEqual(verifyKvProof(S, tree.root, enc("ab"), Uint8Array.of(2), proof), { ok: true });
      assert.equal(verifyKvProof(S, tree.root, enc("ab"), Uint8Array.of(3), proof).ok, false);
      assert.equal(verifyKvProof(S, tree.root, enc("aa"), Uint8Array.of(2), proof).ok, false);
      assert.equal(tree.proof(enc("zz")), undefined);
    });

    it("refuses duplicate keys", () => {
      assert.throws(() => KvMerkleTree.build(S, [...entries, { key: enc("a"), value: new Uint8Array() }]), /duplicate/);
    });
  });
});
