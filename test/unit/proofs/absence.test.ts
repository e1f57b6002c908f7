import assert from "node:assert/strict";
import { KECCAK256_RFC6962 as S, type KvAbsenceProof, KvMerkleTree, verifyKvAbsence, verifyKvProof } from "../../../proofs/merkle.ts";

const bytes = (...b: number[]) => Uint8Array.from(b);
const flip = (a: Uint8Array) => Uint8Array.from(a, (b, i) => (i === 0 ? b ^ 1 : b));

describe("proofs/merkle: non-inclusion in a sorted key-value tree (adjacent leaves)", () => {
  it("proves every absent key and no present key, for trees of 0..12 entries", () => {
    for (let n = 0; n <= 12; n++) {
      // keys 0x10, 0x20, …: probes below, between, equal to and above them
      const entries = Array.from({ length: n }, (_, i) => ({ key: bytes(0x10 * (i + 1)), value: bytes(i, 7) }));
      const tree = KvMerkleTree.build(S, entries);
      for (let probe = 0; probe <= 0x10 * (n + 1) + 1; probe += 8) {
        const key = bytes(probe);
        const present = entries.some((e) => e.key[0] === probe);
        const absence = tree.absenceProof(key);
        if (present) {
          assert.equal(absence, undefined, `n=${n}: no absence proof for present key ${probe}`);
          assert.ok(verifyKvProof(S, tree.root, key, entries.find((e) => e.key[0] === probe)!.value, tree.proof(key)!).ok);
          continue;
        }
        const r = verifyKvAbsence(S, tree.root, key, absence!);
        assert.ok(r.ok, `n=${n} key=${probe}: ${r.ok ? "" : r.reason}`);
      }
      // A longer key sharing a present key's prefix is a different key: absent, provably.
      if (n > 0) assert.ok(verifyKvAbsence(S, tree.root, bytes(0x10, 0), tree.absenceProof(bytes(0x10, 0))!).ok);
    }
  });

  it("refuses to prove a present key absent with any neighbors from the real tree", () => {
    const entries = Array.from({ length: 7 }, (_, i) => ({ key: bytes(0x10 * (i + 1)), value: bytes(i) }));
    const tree = KvMerkleTree.build(S, entries);
    const present = bytes(0x40); // index 3
    const around = (i: number) => ({ key: entries[i]!.key, valueHash: S.hash(entries[i]!.value), proof: tree.tree.proof(i) });
    const tries: KvAbsenceProof[] = [
      { leafCount: 7, left: around(2), right: around(4) }, // brackets it, but not adjacent
      { leafCount: 7, left: around(2), right: null }, // pretends index 2 is last
      { leafCount: 7, left: null, right: around(4) }, // pretends index 4 is first
      { leafCount: 7, left: around(3), right: around(4) }, // left is the key itself
      { leafCount: 0, left: null, right: null }, // pretends the tree is empty
      { leafCount: 3, left: around(2), right: null }, // lies about the size
    ];
    for (const t of tries) assert.equal(verifyKvAbsence(S, tree.root, present, t).ok, false, JSON.stringify({ l: t.left?.proof.index, r: t.right?.proof.index, n: t.leafCount }));
  });

  it("refuses a proof with one flipped bit anywhere", () => {
    const entries = Array.from({ length: 5 }, (_, i) => ({ key: bytes(0x10 * (i + 1)), value: bytes(i) }));
    const tree = KvMerkleTree.build(S, entries);
    const key = bytes(0x25);
    const good = tree.absenceProof(key)!;
    assert.ok(verifyKvAbsence(S, tree.root, key, good).ok);
    const l = good.left!;
    const r = good.right!;
    const variants: KvAbsenceProof[] = [
      { ...good, left: { ...l, valueHash: flip(l.valueHash) } },
      { ...good, right: { ...r, key: flip(r.key) } },
      { ...good, left: { ...l, proof: { ...l.proof, siblings: l.proof.siblings.map((s, i) => (i === 1 ? flip(s) : s)) } } },
    ];
    for (const v of variants) assert.equal(verifyKvAbsence(S, tree.root, key, v).ok, false);
    assert.equal(verifyKvAbsence(S, flip(tree.root), key, good).ok, false, "another root");
  });
});
