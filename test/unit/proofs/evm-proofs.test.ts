/**
 * proofs/evm against proofs captured from a real hardhat node (test/vectors/evm/), and
 * cross-checked with @ethereumjs/mpt on the same vectors and on random tries.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createMPT, createMerkleProof, verifyMerkleProof } from "@ethereumjs/mpt";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import {
  EVM_HEADER_FIELDS,
  checkHeader,
  checkHeaderChain,
  decodeRlp,
  encodeRlp,
  htlcLockId,
  htlcLockSlots,
  verifyEvmLockProof,
  verifySecureTrieProof,
  type RlpItem,
  type StorageProof,
} from "../../../proofs/evm/index.ts";
import type { Hex } from "../../../proofs/hex.ts";

interface Case {
  name: string;
  lockId: Hex;
  height: number;
  block: Record<string, Hex>;
  proof: { address: Hex; accountProof: Hex[]; storageHash: Hex; storageProof: StorageProof[] };
}
const V = JSON.parse(readFileSync(new URL("../../vectors/evm/htlc-locks.json", import.meta.url), "utf8")) as {
  htlc: Hex;
  krwt: Hex;
  expected: Record<Hex, { sender: Hex; receiver: Hex; preimage: Hex | null }>;
  cases: Case[];
  headers: Record<string, Hex>[];
};
const byName = (n: string): Case => V.cases.find((c) => c.name === n)!;
const h2b = (h: string): Uint8Array => hexToBytes(h.slice(2));
const b2h = (b: Uint8Array): Hex => `0x${bytesToHex(b)}`;
const params = (c: Case) => ({
  header: c.block,
  blockHash: c.block.hash!,
  htlc: V.htlc,
  lockId: c.lockId,
  accountProof: c.proof.accountProof,
  storageProof: c.proof.storageProof,
});
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
const reasonOf = (r: { ok: boolean; reason?: string }): string => {
  assert.equal(r.ok, false, "expected a rejection");
  return r.reason!;
};

describe("proofs/evm: RLP", function () {
  it("rejects lists nested deeper than 16", function () {
    let deep: RlpItem = [];
    for (let i = 0; i < 40; i++) deep = [deep];
    assert.match(reasonOf(decodeRlp(encodeRlp(deep))), /nest deeper/);
  });

  it("round-trips lists, short and long strings", function () {
    const item = [new Uint8Array(0), Uint8Array.of(0x7f), Uint8Array.of(0x80), new Uint8Array(56).fill(1), [[], [Uint8Array.of(1)]], new Uint8Array(1024)];
    const enc = encodeRlp(item);
    const dec = decodeRlp(enc);
    assert.ok(dec.ok);
    assert.deepEqual(encodeRlp(dec.item), enc);
    // YP B: "dog" -> 0x83646f67, [] -> 0xc0, 0 -> 0x80, 1024 bytes -> 0xb90400 prefix
    assert.equal(b2h(encodeRlp(new TextEncoder().encode("dog"))), "0x83646f67");
    assert.equal(b2h(encodeRlp([])), "0xc0");
    assert.equal(b2h(encodeRlp(new Uint8Array(1024)).subarray(0, 3)), "0xb90400");
  });

  for (const [hex, why] of [
    ["0x8100", /single byte below 0x80/],
    ["0xb837" + "00".repeat(55), /long form used for a length below 56/],
    ["0xb90001" + "00".repeat(1), /leading zero/],
    ["0x83646f", /runs past the end/],
    ["0x83646f6700", /trailing byte/],
    ["0xc3646f", /runs past the end/],
    ["0x", /ends before an item/],
      ] as const) {
    it(`rejects ${hex.slice(0, 14)}: ${why.source}`, function () {
      assert.match(reasonOf(decodeRlp(h2b(hex))), why);
    });
  }
});

describe("proofs/evm: headers from a hardhat node", function () {
  it("keccak(rlp(all 21 fields)) is the block hash of every captured header", function () {
    for (const h of V.headers) {
      const c = checkHeader(h);
      assert.ok(c.ok, c.ok ? "" : c.reason);
      assert.equal(c.hash, h.hash);
      assert.equal(Object.keys(c.header).length, 21);
      assert.equal(keccak_256(c.rlp).length, 32);
    }
    assert.equal(EVM_HEADER_FIELDS.length, 21);
  });

  it("changing any hashed field changes the hash", function () {
    const h = V.headers.at(-1)!;
    for (const f of EVM_HEADER_FIELDS) {
      const t = clone(h);
      const v = t[f]!;
      t[f] = (f === "extraData" ? `${v}00` : /^0x0?$/.test(v) ? "0x1" : v.length <= 18 && !/^0x0/.test(v) && f !== "nonce" ? `0x${(BigInt(v) + 1n).toString(16)}` : `${v.slice(0, -1)}${v.endsWith("0") ? "1" : "0"}`) as Hex;
      const c = checkHeader(t);
      assert.ok(c.ok, `${f}: ${c.ok ? "" : c.reason}`);
      assert.notEqual(c.hash, h.hash, f);
      assert.match(reasonOf(verifyEvmLockProof({ ...params(byName("locked ETH lock")), header: t })), /header hashes to/, f);
    }
  });

  it("rejects malformed fields with the field's name", function () {
    const h = V.headers.at(-1)!;
    assert.match(reasonOf(checkHeader({ ...h, stateRoot: "0x1234" })), /stateRoot is not 32-byte hex/);
    assert.match(reasonOf(checkHeader({ ...h, number: "0x0c0" })), /number is not a canonical quantity/);
    assert.match(reasonOf(checkHeader({ ...h, gasUsed: 5 })), /gasUsed is not a canonical quantity/);
    const { parentHash: _p, ...noParent } = h;
    assert.match(reasonOf(checkHeader(noParent)), /parentHash is missing/);
    const { withdrawalsRoot: _w, ...gap } = h;
    assert.match(reasonOf(checkHeader(gap)), /has blobGasUsed but not the earlier withdrawalsRoot/);
    assert.match(reasonOf(checkHeader(null)), /not an object/);
  });

  it("header chain: continuity holds, and a broken link is named", function () {
    const ok = checkHeaderChain(V.headers);
    assert.ok(ok.ok);
    assert.equal(ok.checked.length, V.headers.length);
    const swapped = [...V.headers];
    [swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!];
    assert.match(reasonOf(checkHeaderChain(swapped)), /header 3 has number 4, expected 3/);
    const forged = clone(V.headers);
    forged[5]!.parentHash = forged[3]!.hash!;
    assert.match(reasonOf(checkHeaderChain(forged)), /header 5's parentHash is not the hash of header 4/);
    assert.match(reasonOf(checkHeaderChain([...V.headers.slice(0, 3), ...V.headers.slice(4)])), /expected 3/);
  });
});

describe("proofs/evm: HTLC locks from eth_getProof", function () {
  it("decodes locked, claimed and refunded locks to the fields the contract stored", function () {
    for (const [name, status, token] of [
      ["locked ETH lock", "locked", "0x0000000000000000000000000000000000000000"],
      ["claimed KRWT lock", "claimed", V.krwt],
      ["refunded ETH lock", "refunded", "0x0000000000000000000000000000000000000000"],
    ] as const) {
      const c = byName(name);
      const r = verifyEvmLockProof(params(c));
      assert.ok(r.ok, r.ok ? "" : r.reason);
      assert.equal(r.height, c.height);
      assert.equal(r.stateRoot, c.block.stateRoot);
      assert.equal(r.account.storageRoot, c.proof.storageHash);
      const lock = r.lock!;
      const want = V.expected[c.lockId]!;
      assert.equal(lock.status, status);
      assert.equal(lock.sender, want.sender);
      assert.equal(lock.receiver, want.receiver);
      assert.equal(lock.token, token);
      assert.equal(lock.preimage, want.preimage);
      assert.equal(htlcLockId(lock), c.lockId);
    }
  });

  it("proves absence: an unknown id, and a lock before its block (exclusion proofs)", function () {
    for (const name of ["absent lock", "lock before it existed"]) {
      const r = verifyEvmLockProof(params(byName(name)));
      assert.ok(r.ok, r.ok ? "" : r.reason);
      assert.equal(r.lock, null);
    }
  });

  it("slots follow HTLC.sol's documented layout", function () {
    const c = byName("locked ETH lock");
    assert.deepEqual(htlcLockSlots(c.lockId), c.proof.storageProof.map((s) => s.key));
    assert.throws(() => htlcLockSlots("0x12" as Hex), TypeError);
  });

  it("agrees with @ethereumjs/mpt on every captured account and storage proof", async function () {
    for (const c of V.cases) {
      const theirs = await verifyMerkleProof(h2b(V.htlc), c.proof.accountProof.map(h2b), { root: h2b(c.block.stateRoot!), useKeyHashing: true });
      const ours = verifySecureTrieProof(h2b(c.block.stateRoot!), h2b(V.htlc), c.proof.accountProof.map(h2b));
      assert.ok(ours.ok);
      assert.deepEqual(ours.value, theirs);
      for (const sp of c.proof.storageProof) {
        const t = await verifyMerkleProof(h2b(sp.key), sp.proof.map(h2b), { root: h2b(c.proof.storageHash), useKeyHashing: true });
        const o = verifySecureTrieProof(h2b(c.proof.storageHash), h2b(sp.key), sp.proof.map(h2b));
        assert.ok(o.ok, o.ok ? "" : o.reason);
        assert.deepEqual(o.value, t);
      }
    }
  });

  it("each forgery fails with a precise reason", function () {
    const c = byName("locked ETH lock");
    const forge = (f: (p: ReturnType<typeof params>) => void): string => {
      const p = clone(params(c));
      f(p);
      return reasonOf(verifyEvmLockProof(p));
    };
    assert.match(forge((p) => ((p.storageProof[3] as { value: Hex }).value = "0x1")), /storage value 3 claimed as 0x1 but the proof shows/);
    assert.match(forge((p) => ((p.storageProof as StorageProof[]).reverse())), /storage proof 0 is for key/);
    assert.match(forge((p) => (p.storageProof as StorageProof[]).pop()), /expected 6 storage proofs, got 5/);
    assert.match(forge((p) => ((p.storageProof[0]!.proof as Hex[]).length = 1)), /storage proof 0: proof ends after 1 node/);
    assert.match(forge((p) => ((p.storageProof[0]!.proof as Hex[]).push(p.accountProof[0]!))), /left over/);
    assert.match(forge((p) => ((p.accountProof as Hex[])[1] = `${p.accountProof[1]!.slice(0, -2)}00` as Hex)), /account proof: proof node 1 does not hash/);
    assert.match(forge((p) => ((p.accountProof as Hex[])[0] = byName("lock before it existed").proof.accountProof[0]!)), /first proof node does not hash to the root/);
    assert.match(forge((p) => ((p as { lockId: Hex }).lockId = byName("claimed KRWT lock").lockId)), /storage proof 0 is for key/);
    assert.match(forge((p) => ((p as { htlc: Hex }).htlc = V.krwt)), /storage proof 0: first proof node does not hash to the root|account proof/);
    assert.match(forge((p) => ((p as { blockHash: Hex }).blockHash = V.headers[1]!.hash!)), /header hashes to/);
    // a proof for another block's state (the lock before it existed) against this header
    assert.match(forge((p) => ((p as { storageProof: StorageProof[] }).storageProof = byName("lock before it existed").proof.storageProof)), /storage proof 0: first proof node does not hash to the root/);
  });
});

describe("proofs/evm: random tries built by @ethereumjs/mpt", function () {
  it("inclusion and exclusion agree with @ethereumjs/mpt on 300 keys", async function () {
    const trie = await createMPT({ useKeyHashing: true });
    const keys: Uint8Array[] = [];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let i = 0; i < 200; i++) {
      const k = Uint8Array.from({ length: 1 + (next() % 40) }, () => next() & 0xff);
      const v = Uint8Array.from({ length: 1 + (next() % 70) }, () => next() & 0xff);
      keys.push(k);
      await trie.put(k, v);
    }
    for (let i = 0; i < 100; i++) keys.push(Uint8Array.from({ length: 32 }, () => next() & 0xff));
    const root = trie.root();
    let absent = 0;
    for (const k of keys) {
      const proof = await createMerkleProof(trie, k);
      const theirs = await verifyMerkleProof(k, proof, { root, useKeyHashing: true });
      const ours = verifySecureTrieProof(root, k, proof);
      assert.ok(ours.ok, ours.ok ? "" : ours.reason);
      assert.deepEqual(ours.value, theirs);
      if (ours.value === null) absent++;
    }
    assert.ok(absent >= 90, `exclusion proofs exercised (${absent})`);
  });
});
