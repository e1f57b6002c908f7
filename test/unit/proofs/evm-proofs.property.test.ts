/**
 * Property-based mutation tests (fast-check) for proofs/evm: on any mutation of a real
 * proof the verifiers neither throw nor accept anything but the true answer.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { hexToBytes } from "@noble/hashes/utils.js";
import { checkHeader, decodeRlp, encodeRlp, verifyEvmLockProof, verifySecureTrieProof, type StorageProof } from "../../../proofs/evm/index.ts";
import { toHex, type Hex } from "../../../proofs/hex.ts";
import { verifyProofBundle } from "../../../proofs/bundle.ts";

interface Case {
  name: string;
  lockId: Hex;
  block: Record<string, Hex>;
  proof: { accountProof: Hex[]; storageHash: Hex; storageProof: StorageProof[] };
}
const V = JSON.parse(readFileSync(new URL("../../vectors/evm/htlc-locks.json", import.meta.url), "utf8")) as { htlc: Hex; cases: Case[]; headers: Record<string, Hex>[] };
const h2b = (h: string): Uint8Array => hexToBytes(h.slice(2));
const RUNS = 400;

/** A mutation of a list of byte strings: flip a bit, truncate, extend, drop, duplicate or swap a node. */
const mutation = fc.record({
  op: fc.constantFrom("flip", "truncate", "extend", "drop", "dup", "swap", "replace"),
  node: fc.nat(),
  other: fc.nat(),
  at: fc.nat(),
  bit: fc.integer({ min: 0, max: 7 }),
  bytes: fc.uint8Array({ minLength: 0, maxLength: 40 }),
});
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(nodes: readonly Uint8Array[], m: Mutation): Uint8Array[] {
  const out = nodes.map((n) => n.slice());
  if (out.length === 0) return [m.bytes];
  const i = m.node % out.length;
  const n = out[i]!;
  switch (m.op) {
    case "flip":
      if (n.length) n[m.at % n.length]! ^= 1 << m.bit;
      else out[i] = Uint8Array.of(1 << m.bit);
      break;
    case "truncate":
      out[i] = n.subarray(0, m.at % Math.max(1, n.length));
      break;
    case "extend":
      out[i] = Uint8Array.from([...n, ...m.bytes, 0]);
      break;
    case "drop":
      out.splice(i, 1);
      break;
    case "dup":
      out.splice(i, 0, n);
      break;
    case "swap":
      [out[i], out[m.other % out.length]] = [out[m.other % out.length]!, n];
      if (out.length === 1) out.push(m.bytes);
      break;
    case "replace":
      out[i] = m.bytes;
      break;
  }
  return out;
}

const same = (a: Uint8Array[], b: readonly Uint8Array[]) => a.length === b.length && a.every((x, i) => toHex(x) === toHex(b[i]!));

describe("proofs/evm: property-based mutation (fast-check)", function () {
  this.timeout(60_000);

  it("decodeRlp never throws and only accepts canonical encodings", function () {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const d = decodeRlp(bytes);
        if (d.ok) assert.equal(toHex(encodeRlp(d.item)), toHex(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it("trie proofs: no crash, no false accept, for every captured account and storage proof", function () {
    const targets: { root: Uint8Array; key: Uint8Array; proof: Uint8Array[] }[] = [];
    for (const c of V.cases) {
      targets.push({ root: h2b(c.block.stateRoot!), key: h2b(V.htlc), proof: c.proof.accountProof.map(h2b) });
      for (const sp of c.proof.storageProof) targets.push({ root: h2b(c.proof.storageHash), key: h2b(sp.key), proof: sp.proof.map(h2b) });
    }
    fc.assert(
      fc.property(fc.nat(), mutation, (t, m) => {
        const target = targets[t % targets.length]!;
        const truth = verifySecureTrieProof(target.root, target.key, target.proof);
        assert.ok(truth.ok);
        const proof = mutate(target.proof, m);
        const r = verifySecureTrieProof(target.root, target.key, proof);
        if (r.ok) {
          // Only an unchanged proof may verify, and then to the same answer.
          assert.ok(same(proof, target.proof), `mutated proof accepted (${m.op})`);
          assert.deepEqual(r.value, truth.value);
        } else {
          assert.equal(typeof r.reason, "string");
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("whole lock proofs: a mutated header, storage value or key never yields a different accepted lock", function () {
    fc.assert(
      fc.property(fc.nat(), fc.constantFrom(...Object.keys(V.headers[0]!).filter((k) => k !== "hash")), fc.nat(), fc.string({ maxLength: 70 }), (ci, field, si, junk) => {
        const c = V.cases[ci % V.cases.length]!;
        const base = { header: c.block, blockHash: c.block.hash!, htlc: V.htlc, lockId: c.lockId, accountProof: c.proof.accountProof, storageProof: c.proof.storageProof };
        const truth = verifyEvmLockProof(base);
        assert.ok(truth.ok);
        const tampered = [
          { ...base, header: { ...c.block, [field]: junk } },
          { ...base, header: { ...c.block, [field]: `0x${junk}` } },
          { ...base, storageProof: base.storageProof.map((s, i) => (i === si % 6 ? { ...s, value: junk } : s)) as StorageProof[] },
          { ...base, storageProof: base.storageProof.map((s, i) => (i === si % 6 ? { ...s, key: junk } : s)) as StorageProof[] },
          { ...base, accountProof: [...base.accountProof.slice(0, si % 3), junk] as Hex[] },
        ];
        for (const p of tampered) {
          const r = verifyEvmLockProof(p);
          if (r.ok) assert.deepEqual(r, truth, "a tampered proof verified to a different result");
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("checkHeader never throws on arbitrary JSON", function () {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...Object.keys(V.headers[0]!)), fc.oneof(fc.string(), fc.integer(), fc.constant(null))), (partial) => {
        const r = checkHeader({ ...V.headers[3], ...partial });
        if (r.ok) assert.equal(typeof r.hash, "string");
      }),
      { numRuns: RUNS },
    );
  });

  it("proof bundles: any single-value mutation of the JSON is refused or verifies to the same result", function () {
    const bundle = JSON.parse(readFileSync(new URL("../../vectors/evm/bundle-claimed-lock.json", import.meta.url), "utf8"));
    const anchor = JSON.parse(readFileSync(new URL("../../vectors/evm/anchor-head.json", import.meta.url), "utf8"));
    const truth = verifyProofBundle(bundle, anchor);
    assert.ok(truth.ok);
    // Every path to a leaf value of the bundle.
    const paths: (string | number)[][] = [];
    const walk = (v: unknown, at: (string | number)[]) => {
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...at, i]));
      else if (typeof v === "object" && v !== null) for (const [k, x] of Object.entries(v)) walk(x, [...at, k]);
      else paths.push(at);
    };
    walk(bundle, []);
    const value = fc.oneof(fc.string({ maxLength: 80 }), fc.integer(), fc.constant(null), fc.constant("0x"), fc.uint8Array({ maxLength: 40 }).map((b) => toHex(b)));
    fc.assert(
      fc.property(fc.nat(), value, fc.boolean(), (pi, v, withAnchor) => {
        const path = paths[pi % paths.length]!;
        const b = structuredClone(bundle);
        let o = b;
        for (const k of path.slice(0, -1)) o = o[k];
        const last = path.at(-1)!;
        if (o[last] === v) return;
        o[last] = v;
        const r = verifyProofBundle(b, withAnchor ? anchor : undefined);
        // `chain` is a display label, and an EVM header does not commit to the chain id (only an anchor naming it does).
        const proven = (x: typeof truth) => ({ ...x, anchored: true, anchor: "", chain: "", chainId: withAnchor && x.ok ? x.chainId : 0 });
        if (r.ok) assert.deepEqual(proven(r), proven(truth), `mutating ${path.join(".")} changed what the bundle proves`);
      }),
      { numRuns: RUNS },
    );
  });
});
