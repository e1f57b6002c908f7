import assert from "node:assert/strict";
import fc from "fast-check";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { KvOverlay, MemoryKv } from "../../../chains/consortium/kv.ts";
import { SortedKeys } from "../../../chains/consortium/sorted-keys.ts";
import { KECCAK256_SPARSE as S, bit, hashSparseLeaf, hashSparseNode, verifySparseAbsence, verifySparseProof } from "../../../proofs/sparse-merkle.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const enc = (s: string) => new TextEncoder().encode(s);

/** The sparse tree's definition, from scratch (see test/unit/proofs/sparse-merkle.test.ts). */
function referenceRoot(entries: Iterable<{ key: Uint8Array; value: Uint8Array }>): Uint8Array {
  const leaves = [...entries].map((e) => ({ path: keccak_256(e.key), leaf: hashSparseLeaf(S, keccak_256(e.key), keccak_256(e.value)) }));
  const at = (depth: number, set: typeof leaves): Uint8Array =>
    set.length === 0 ? new Uint8Array(32) : set.length === 1 ? set[0]!.leaf : hashSparseNode(S, at(depth + 1, set.filter((l) => bit(l.path, depth) === 0)), at(depth + 1, set.filter((l) => bit(l.path, depth) === 1)));
  return at(0, leaves);
}

const op = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), key: fc.uint8Array({ maxLength: 3 }), value: fc.uint8Array({ maxLength: 4 }) }),
  fc.record({ kind: fc.constant("delete" as const), key: fc.uint8Array({ maxLength: 3 }) }),
);

describe("consortium/kv: MemoryKv over the sparse Merkle tree", () => {
  it("after any sequence of sets and deletes (direct or through overlays) its root, proofs and scans match a plain map (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(fc.array(op, { maxLength: 12 }), { maxLength: 8 }), (blocks) => {
        const kv = new MemoryKv();
        const model = new Map<string, { key: Uint8Array; value: Uint8Array }>();
        for (const [b, ops] of blocks.entries()) {
          const overlay = new KvOverlay(kv);
          const target = b % 2 === 0 ? overlay : kv; // even blocks through an overlay, odd ones directly
          for (const o of ops) {
            if (o.kind === "set") {
              target.set(o.key, o.value);
              model.set(hex(o.key), { key: o.key, value: o.value });
            } else {
              target.delete(o.key);
              model.delete(hex(o.key));
            }
          }
          if (target === overlay) {
            const before = kv.root();
            const predicted = overlay.root();
            assert.deepEqual(kv.root(), before, "rootWith does not mutate");
            overlay.commit();
            assert.deepEqual(kv.root(), predicted);
          }
          assert.deepEqual(kv.root(), referenceRoot(model.values()));
          assert.equal(kv.size, model.size);
        }
        for (const e of model.values()) {
          assert.deepEqual(kv.get(e.key), e.value);
          assert.deepEqual(verifySparseProof(S, kv.root(), e.key, e.value, kv.proof(e.key)!), { ok: true });
          assert.equal(kv.absenceProof(e.key), undefined);
        }
        for (let i = 0; i < 8; i++) {
          const k = Uint8Array.of(i, 0xee);
          if (model.has(hex(k))) continue;
          assert.equal(kv.proof(k), undefined);
          assert.deepEqual(verifySparseAbsence(S, kv.root(), k, kv.absenceProof(k)!), { ok: true });
        }
        const sorted = [...model.keys()].sort();
        assert.deepEqual(kv.scan(new Uint8Array(0)).map((e) => hex(e.key)), sorted);
        for (const prefix of [Uint8Array.of(0), Uint8Array.of(1), Uint8Array.of(0xff, 0)]) {
          assert.deepEqual(kv.scan(prefix).map((e) => hex(e.key)), sorted.filter((k) => k.startsWith(hex(prefix))));
        }
      }),
      { numRuns: 200 },
    );
  });

  it("applying writes changed after rootWith uses the changed writes, not the prepared tree", () => {
    const kv = new MemoryKv();
    kv.set(enc("a"), enc("1"));
    const overlay = new KvOverlay(kv);
    overlay.set(enc("b"), enc("2"));
    const early = overlay.root();
    overlay.set(enc("b"), enc("3")); // same key, new value: the pair object changes
    overlay.set(enc("c"), enc("4"));
    overlay.commit();
    assert.notDeepEqual(kv.root(), early);
    assert.deepEqual(kv.root(), referenceRoot([{ key: enc("a"), value: enc("1") }, { key: enc("b"), value: enc("3") }, { key: enc("c"), value: enc("4") }]));
  });

  it("a snapshot keeps answering for its version after later writes and deletes", () => {
    const kv = new MemoryKv();
    for (let i = 0; i < 50; i++) kv.set(enc(`k${i}`), enc(`v${i}`));
    const snap = kv.snapshot();
    const root = snap.root();
    kv.set(enc("k1"), enc("changed"));
    kv.delete(enc("k2"));
    kv.set(enc("new"), enc("x"));
    assert.deepEqual(snap.root(), root);
    assert.notDeepEqual(kv.root(), root);
    assert.deepEqual(snap.get(enc("k1")), enc("v1"));
    assert.deepEqual(verifySparseProof(S, root, enc("k2"), enc("v2"), snap.proof(enc("k2"))!), { ok: true });
    assert.deepEqual(verifySparseAbsence(S, root, enc("new"), snap.absenceProof(enc("new"))!), { ok: true });
    assert.deepEqual(verifySparseAbsence(S, kv.root(), enc("k2"), kv.absenceProof(enc("k2"))!), { ok: true });
  });

  it("keeps its own copies: changing the caller's buffers after set changes nothing", () => {
    const kv = new MemoryKv();
    const key = enc("key");
    const value = enc("value");
    kv.set(key, value);
    const root = kv.root();
    key[0] = 0;
    value[0] = 0;
    assert.deepEqual(kv.get(enc("key")), enc("value"));
    assert.deepEqual(kv.root(), root);
    assert.deepEqual(kv.scan(enc("k"))[0]!.value, enc("value"));
  });
});

describe("consortium/sorted-keys", () => {
  it("stays sorted and exact through thousands of inserts and deletes across chunk splits (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3000 })), { minLength: 500, maxLength: 4000 }), (ops) => {
        const keys = new SortedKeys();
        const model = new Set<string>();
        for (const [add, n] of ops) {
          const k = n.toString(16).padStart(4, "0");
          assert.equal(add ? keys.insert(k) : keys.delete(k), add ? !model.has(k) : model.has(k));
          if (add) model.add(k);
          else model.delete(k);
        }
        const sorted = [...model].sort();
        assert.equal(keys.size, model.size);
        assert.deepEqual([...keys.from("")], sorted);
        assert.deepEqual([...keys.from("0800")], sorted.filter((k) => k >= "0800"));
        for (const k of sorted.slice(0, 20)) assert.ok(keys.has(k));
      }),
      { numRuns: 30 },
    );
  });
});
