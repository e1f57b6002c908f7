import assert from "node:assert/strict";
import fc from "fast-check";
import { keccak_256 } from "@noble/hashes/sha3.js";
import {
  KECCAK256_SPARSE as S,
  type SparseAbsenceProof,
  SparseMerkleTree,
  type SparseWrite,
  bit,
  hashSparseLeaf,
  hashSparseNode,
  sparseRootFromPath,
  verifySparseAbsence,
  verifySparseProof,
} from "../../../proofs/sparse-merkle.ts";

type Entries = Map<string, { key: Uint8Array; value: Uint8Array }>;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const ZERO = new Uint8Array(32);

/**
 * The tree's definition written directly and independently of the implementation (no
 * persistence, no batching): a subtree with no leaf is zero, with one leaf is that leaf,
 * otherwise the node over its two halves split on the next bit of keccak256(key).
 */
function referenceRoot(entries: readonly { key: Uint8Array; value: Uint8Array }[]): Uint8Array {
  const leaves = entries.map((e) => ({ path: keccak_256(e.key), leaf: hashSparseLeaf(S, keccak_256(e.key), keccak_256(e.value)) }));
  const at = (depth: number, set: typeof leaves): Uint8Array => {
    if (set.length === 0) return ZERO;
    if (set.length === 1) return set[0]!.leaf;
    return hashSparseNode(S, at(depth + 1, set.filter((l) => bit(l.path, depth) === 0)), at(depth + 1, set.filter((l) => bit(l.path, depth) === 1)));
  };
  return at(0, leaves);
}

function treeOf(entries: Iterable<{ key: Uint8Array; value: Uint8Array }>, base = SparseMerkleTree.empty<{ key: Uint8Array; value: Uint8Array }>(S)) {
  const writes: SparseWrite<{ key: Uint8Array; value: Uint8Array }>[] = [...entries].map((e) => ({ keyHash: S.hash(e.key), valueHash: S.hash(e.value), payload: e }));
  return base.update(writes);
}

function prove(tree: SparseMerkleTree<unknown>, key: Uint8Array) {
  return tree.lookup(S.hash(key));
}

/** Every single-bit change of a byte array. */
function* flips(b: Uint8Array): Generator<Uint8Array> {
  for (let i = 0; i < b.length * 8; i++) {
    const c = b.slice();
    c[i >> 3]! ^= 0x80 >> (i & 7);
    yield c;
  }
}

/** Keys whose keccak256 paths share their first `bits` bits (found by search; cheap for bits <= 16). */
function keysSharingPrefix(bits: number, count: number): Uint8Array[] {
  const byPrefix = new Map<number, Uint8Array[]>();
  for (let i = 0; ; i++) {
    const key = new TextEncoder().encode(`k${i}`);
    const h = keccak_256(key);
    const prefix = ((h[0]! << 16) | (h[1]! << 8) | h[2]!) >>> (24 - bits);
    const list = byPrefix.get(prefix) ?? [];
    list.push(key);
    byPrefix.set(prefix, list);
    if (list.length === count) return list;
  }
}

const enc = (s: string) => new TextEncoder().encode(s);

describe("proofs/sparse-merkle: compact sparse Merkle tree (keccak-256)", () => {
  it("the empty tree: root is zero, every key provably absent (empty end, no siblings), nothing included", () => {
    const t = SparseMerkleTree.empty(S);
    assert.deepEqual(t.root, ZERO);
    const l = prove(t, enc("a"));
    assert.equal(l.found, false);
    assert.deepEqual(!l.found && l.absence, { kind: "empty", siblings: [] });
    assert.deepEqual(verifySparseAbsence(S, t.root, enc("a"), { kind: "empty", siblings: [] }), { ok: true });
    assert.equal(verifySparseProof(S, t.root, enc("a"), enc("v"), { siblings: [] }).ok, false);
  });

  it("one leaf: the root is the leaf; another key's absence ends at that leaf", () => {
    const t = treeOf([{ key: enc("a"), value: enc("1") }]);
    assert.deepEqual(t.root, hashSparseLeaf(S, keccak_256(enc("a")), keccak_256(enc("1"))));
    assert.deepEqual(t.root, referenceRoot([{ key: enc("a"), value: enc("1") }]));
    const inc = prove(t, enc("a"));
    assert.ok(inc.found && inc.proof.siblings.length === 0);
    assert.deepEqual(verifySparseProof(S, t.root, enc("a"), enc("1"), inc.found ? inc.proof : { siblings: [] }), { ok: true });
    assert.equal(verifySparseProof(S, t.root, enc("a"), enc("2"), { siblings: [] }).ok, false, "another value");
    const abs = prove(t, enc("b"));
    assert.ok(!abs.found && abs.absence.kind === "leaf");
    assert.deepEqual(verifySparseAbsence(S, t.root, enc("b"), !abs.found ? abs.absence : (null as never)), { ok: true });
  });

  it("two leaves sharing a 16-bit path prefix: 17 levels, 16 of them with an empty sibling, both proofs verify", () => {
    const [a, b] = keysSharingPrefix(16, 2) as [Uint8Array, Uint8Array];
    const ha = keccak_256(a);
    const hb = keccak_256(b);
    let depth = 0;
    while (bit(ha, depth) === bit(hb, depth)) depth++;
    assert.ok(depth >= 16);
    const entries = [{ key: a, value: enc("A") }, { key: b, value: enc("B") }];
    const t = treeOf(entries);
    assert.deepEqual(t.root, referenceRoot(entries));
    const pa = prove(t, a);
    assert.ok(pa.found);
    assert.equal(pa.proof.siblings.length, depth + 1);
    assert.equal(pa.proof.siblings.filter((s) => s.every((x) => x === 0)).length, depth, "every level above the split has an empty sibling");
    assert.deepEqual(verifySparseProof(S, t.root, a, enc("A"), pa.proof), { ok: true });
    // A third key that leaves their shared path somewhere in the first 16 bits ends at an empty subtree.
    for (let i = 0; ; i++) {
      const c = enc(`other${i}`);
      const hc = keccak_256(c);
      if (bit(hc, 0) !== bit(ha, 0)) continue;
      const l = prove(t, c);
      assert.ok(!l.found && l.absence.kind === "empty");
      assert.deepEqual(verifySparseAbsence(S, t.root, c, l.absence), { ok: true });
      break;
    }
    // Deleting one collapses the other back to the root.
    const one = t.update([{ keyHash: hb, valueHash: null }]);
    assert.deepEqual(one.root, hashSparseLeaf(S, ha, keccak_256(enc("A"))));
  });

  it("matches the reference definition, proves every key in and every probe out, for random sets (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ key: fc.uint8Array({ minLength: 0, maxLength: 6 }), value: fc.uint8Array({ maxLength: 8 }) }), { selector: (e) => hex(e.key), maxLength: 40 }),
        fc.array(fc.uint8Array({ maxLength: 6 }), { maxLength: 10 }),
        (entries, probes) => {
          const t = treeOf(entries);
          assert.deepEqual(t.root, referenceRoot(entries));
          const present = new Set(entries.map((e) => hex(e.key)));
          for (const e of entries) {
            const l = prove(t, e.key);
            assert.ok(l.found);
            assert.deepEqual(verifySparseProof(S, t.root, e.key, e.value, l.proof), { ok: true });
            assert.equal(prove(t, e.key).found && l.leaf.payload, e);
          }
          for (const p of probes) {
            if (present.has(hex(p))) continue;
            const l = prove(t, p);
            assert.ok(!l.found);
            assert.deepEqual(verifySparseAbsence(S, t.root, p, l.absence), { ok: true });
          }
          assert.equal([...t.leaves()].length, entries.length);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("the root depends on the entries, not the order or batching of writes; deletes restore earlier roots (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ key: fc.uint8Array({ maxLength: 4 }), value: fc.uint8Array({ maxLength: 4 }) }), { selector: (e) => hex(e.key), minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 7 }),
        fc.nat(),
        (entries, batch, seed) => {
          const all = treeOf(entries);
          // Shuffled one-by-one / in batches of `batch`.
          const shuffled = entries.slice().sort((x, y) => ((hex(x.key).length * 31 + seed) % 7) - ((hex(y.key).length * 17 + seed) % 5));
          let t = SparseMerkleTree.empty<{ key: Uint8Array; value: Uint8Array }>(S);
          for (let i = 0; i < shuffled.length; i += batch) t = treeOf(shuffled.slice(i, i + batch), t);
          assert.deepEqual(t.root, all.root);
          // Delete the second half: the root is the first half's.
          const half = Math.floor(entries.length / 2);
          const first = treeOf(entries.slice(0, half));
          const deleted = all.update(entries.slice(half).map((e) => ({ keyHash: S.hash(e.key), valueHash: null })));
          assert.deepEqual(deleted.root, first.root);
          // The version the update started from is untouched.
          assert.deepEqual(all.root, referenceRoot(entries));
        },
      ),
      { numRuns: 150 },
    );
  });

  it("rejects every single flipped bit in an inclusion proof's siblings, key or value", () => {
    const entries = Array.from({ length: 24 }, (_, i) => ({ key: enc(`key${i}`), value: enc(`v${i}`) }));
    const t = treeOf(entries);
    const { key, value } = entries[7]!;
    const l = prove(t, key);
    assert.ok(l.found && l.proof.siblings.length >= 3);
    assert.deepEqual(verifySparseProof(S, t.root, key, value, l.proof), { ok: true });
    l.proof.siblings.forEach((s, i) => {
      for (const f of flips(s)) {
        const siblings = l.proof.siblings.slice();
        siblings[i] = f;
        assert.equal(verifySparseProof(S, t.root, key, value, { siblings }).ok, false, `sibling ${i}`);
      }
    });
    for (const f of flips(key)) assert.equal(verifySparseProof(S, t.root, f, value, l.proof).ok, false);
    for (const f of flips(value)) assert.equal(verifySparseProof(S, t.root, key, f, l.proof).ok, false);
    for (const f of flips(t.root)) assert.equal(verifySparseProof(S, f, key, value, l.proof).ok, false);
    // A sibling dropped, added, or not 32 bytes.
    assert.equal(verifySparseProof(S, t.root, key, value, { siblings: l.proof.siblings.slice(1) }).ok, false);
    assert.equal(verifySparseProof(S, t.root, key, value, { siblings: [ZERO, ...l.proof.siblings] }).ok, false);
    assert.equal(verifySparseProof(S, t.root, key, value, { siblings: [l.proof.siblings[0]!.subarray(1), ...l.proof.siblings.slice(1)] }).ok, false);
    assert.match(String((verifySparseProof(S, t.root, key, value, { siblings: Array(257).fill(ZERO) }) as { reason: string }).reason), /at most 256/);
  });

  it("rejects every single flipped bit in absence proofs of both kinds, and a changed kind", () => {
    const entries = Array.from({ length: 24 }, (_, i) => ({ key: enc(`key${i}`), value: enc(`v${i}`) }));
    const t = treeOf(entries);
    const byKind = new Map<string, { key: Uint8Array; absence: SparseAbsenceProof }>();
    for (let i = 0; byKind.size < 2; i++) {
      const key = enc(`absent${i}`);
      const l = prove(t, key);
      assert.ok(!l.found);
      if (!byKind.has(l.absence.kind) && l.absence.siblings.length > 0) byKind.set(l.absence.kind, { key, absence: l.absence });
    }
    for (const { key, absence } of byKind.values()) {
      assert.deepEqual(verifySparseAbsence(S, t.root, key, absence), { ok: true });
      absence.siblings.forEach((s, i) => {
        for (const f of flips(s)) {
          const siblings = absence.siblings.slice();
          siblings[i] = f;
          assert.equal(verifySparseAbsence(S, t.root, key, { ...absence, siblings }).ok, false, `${absence.kind} sibling ${i}`);
        }
      });
      if (absence.kind === "leaf") {
        for (const f of flips(absence.keyHash)) assert.equal(verifySparseAbsence(S, t.root, key, { ...absence, keyHash: f }).ok, false);
        for (const f of flips(absence.valueHash)) assert.equal(verifySparseAbsence(S, t.root, key, { ...absence, valueHash: f }).ok, false);
        assert.equal(verifySparseAbsence(S, t.root, key, { kind: "empty", siblings: absence.siblings }).ok, false, "leaf end claimed empty");
      } else {
        assert.equal(verifySparseAbsence(S, t.root, key, { kind: "leaf", keyHash: ZERO, valueHash: ZERO, siblings: absence.siblings }).ok, false, "empty end claimed a leaf");
      }
      assert.equal(verifySparseAbsence(S, t.root, key, { ...absence, siblings: absence.siblings.slice(1) }).ok, false);
      assert.equal(verifySparseAbsence(S, t.root, key, { ...absence, kind: "other" } as unknown as SparseAbsenceProof).ok, false);
    }
  });

  it("refuses an absence proof for a present key, whatever it is built from", () => {
    const entries = Array.from({ length: 24 }, (_, i) => ({ key: enc(`key${i}`), value: enc(`v${i}`) }));
    const t = treeOf(entries);
    for (const { key, value } of entries) {
      const l = prove(t, key);
      assert.ok(l.found);
      const keyHash = S.hash(key);
      const tries: SparseAbsenceProof[] = [
        { kind: "leaf", keyHash, valueHash: S.hash(value), siblings: l.proof.siblings },
        { kind: "empty", siblings: l.proof.siblings },
        { kind: "empty", siblings: l.proof.siblings.slice(1) },
        { kind: "empty", siblings: [] },
      ];
      // The leaves of the other entries, at their own depths: they do not share the key's path that far.
      for (const other of entries) {
        const o = prove(t, other.key);
        if (o.found && other.key !== key) tries.push({ kind: "leaf", keyHash: S.hash(other.key), valueHash: S.hash(other.value), siblings: o.proof.siblings });
      }
      for (const a of tries) assert.equal(verifySparseAbsence(S, t.root, key, a).ok, false);
    }
  });

  it("an update computes about one hash per touched level, not 256", () => {
    let t = SparseMerkleTree.empty<undefined>(S);
    const writes = Array.from({ length: 4096 }, (_, i) => ({ keyHash: keccak_256(Uint8Array.of(i >> 8, i & 0xff)), valueHash: ZERO, payload: undefined }));
    t = t.update(writes);
    const one = t.update([{ keyHash: keccak_256(enc("new")), valueHash: ZERO, payload: undefined }]);
    // log2(4096) = 12; a new key's path is ~12-14 levels deep.
    assert.ok(one.hashesComputed >= 10 && one.hashesComputed <= 30, `hashes for one write: ${one.hashesComputed}`);
    assert.equal(t.update([]), t);
  });

  it("sparseRootFromPath folds siblings upward along the key's bits", () => {
    const keyHash = new Uint8Array(32);
    keyHash[0] = 0b0100_0000; // bit 0 = 0, bit 1 = 1
    const leaf = hashSparseLeaf(S, keyHash, ZERO);
    const s0 = keccak_256(enc("s0")); // sibling at depth 1 (bit 1 = 1: leaf is the right child)
    const s1 = keccak_256(enc("s1")); // sibling at depth 0 (bit 0 = 0: left child)
    const r = sparseRootFromPath(S, keyHash, leaf, [s0, s1]);
    assert.ok(r.ok);
    assert.deepEqual(r.root, hashSparseNode(S, hashSparseNode(S, s0, leaf), s1));
  });

  it("throws on misuse: two writes to one key, wrong-length hashes", () => {
    const t = SparseMerkleTree.empty(S);
    assert.throws(() => t.update([{ keyHash: ZERO, valueHash: ZERO, payload: undefined }, { keyHash: ZERO, valueHash: null }]), /two writes/);
    assert.throws(() => t.update([{ keyHash: new Uint8Array(31), valueHash: ZERO, payload: undefined }]), /keyHash/);
    assert.throws(() => t.lookup(new Uint8Array(3)), /keyHash/);
    assert.throws(() => verifySparseProof(S, new Uint8Array(31), enc("a"), enc("b"), { siblings: [] }), /root/);
  });
});
