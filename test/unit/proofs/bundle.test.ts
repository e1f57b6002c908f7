/**
 * Proof bundles: the committed EVM bundle (captured from a hardhat node) and a consortium
 * bundle built from a real in-process chain verify offline against their trust anchors,
 * fail with a reason when tampered with, and `isthmus proof verify` prints either.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { lockIdFor } from "../../../proofs/consortium/state.ts";
import { makeConsortiumLockBundle, verifyProofBundle } from "../../../proofs/bundle.ts";
import { alice, bob, CHAIN_ID, commitBlock, openChain, secret, testGenesis, tx } from "../consortium/helpers.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const VECTORS = path.join(ROOT, "test/vectors/evm");
const read = (f: string) => JSON.parse(readFileSync(path.join(VECTORS, f), "utf8"));
const evmBundle = read("bundle-claimed-lock.json");
const evmAnchor = read("anchor-head.json");

function consortiumFixture() {
  const genesis = testGenesis();
  const chain = openChain(genesis);
  const { hashlock } = secret(9);
  const terms = { receiver: bob.address, asset: "KRW", amount: 4200n, hashlock, timelock: Math.floor(genesis.timeMs / 1000) + 3600 };
  const lockId = lockIdFor(alice.address, terms);
  commitBlock(chain, [tx(alice, 0, { kind: "lock", ...terms })], genesis.timeMs + 1000);
  const found = chain.lockAtHead(lockId);
  assert.ok(found?.found, "the lock is in the head state");
  const { found: _found, ...at } = found;
  const bundle = JSON.parse(JSON.stringify(makeConsortiumLockBundle({ chain: "consortium", chainId: CHAIN_ID, lockId, validatorSet: genesis.validators, ...at })));
  const anchor = { kind: "consortium-validators", chainId: CHAIN_ID, validators: bundle.validators };
  return { bundle, anchor, lockId, terms };
}

const rejects = (r: { ok: boolean; reason?: string }, why: RegExp) => {
  assert.equal(r.ok, false);
  assert.match(r.reason!, why);
};

describe("proofs/bundle", function () {
  it("evm: the captured bundle proves the claimed lock, anchored at a later trusted header", function () {
    const r = verifyProofBundle(evmBundle, evmAnchor);
    assert.ok(r.ok, r.ok ? "" : r.reason);
    assert.equal(r.anchored, true);
    assert.equal(r.lock?.status, "claimed");
    assert.equal(r.lock?.amount, "12345");
    assert.equal(r.height, evmAnchor.height - 2);
    assert.match(r.anchor, /commits to the proven block/);
  });

  it("evm: a lying bundle or a foreign anchor fails with the reason", function () {
    const b = structuredClone(evmBundle);
    b.headers.splice(1, 1);
    rejects(verifyProofBundle(b, evmAnchor), /header 1 has number 12, expected 11/);
    rejects(verifyProofBundle({ ...evmBundle, lockId: `0x${"00".repeat(32)}` }, evmAnchor), /storage proof 0 is for key/);
    rejects(verifyProofBundle({ ...evmBundle, headers: evmBundle.headers.slice(0, 2) }, evmAnchor), /trusted header 12 is not among the bundle's headers 10\.\.11/);
    rejects(verifyProofBundle(evmBundle, { ...evmAnchor, height: 9 }), /older than the proven block 10/);
    rejects(verifyProofBundle(evmBundle, consortiumFixture().anchor), /cannot anchor an evm-htlc-lock bundle/);
    rejects(verifyProofBundle(evmBundle, "x"), /not a JSON object/);
    rejects(verifyProofBundle(null), /not a JSON object/);
  });

  it("consortium: a bundle of a real committed lock verifies with the existing verifyLockProof", function () {
    const { bundle, anchor, lockId, terms } = consortiumFixture();
    const r = verifyProofBundle(bundle, anchor);
    assert.ok(r.ok, r.ok ? "" : r.reason);
    assert.equal(r.kind, "consortium-lock");
    assert.equal(r.lockId, lockId);
    assert.deepEqual(r.lock, { lockId, sender: alice.address, receiver: bob.address, asset: "KRW", amount: "4200", hashlock: terms.hashlock, timelock: String(terms.timelock), status: "locked", preimage: null });
    assert.equal(r.anchored, true);
  });

  it("consortium: tampering or an untrusted validator set fails", function () {
    const { bundle, anchor } = consortiumFixture();
    const other = { ...anchor, validators: anchor.validators.map((v: { address: string; stake: string }, i: number) => ({ ...v, stake: i === 0 ? "1000000" : v.stake })) };
    rejects(verifyProofBundle(bundle, other), /commit/);
    rejects(verifyProofBundle({ ...bundle, value: `${bundle.value}00` }, anchor), /lock value/);
    rejects(verifyProofBundle({ ...bundle, header: { ...bundle.header, stateRoot: `0x${"00".repeat(32)}` } }, anchor), /commit/);
    rejects(verifyProofBundle({ ...bundle, proof: { ...bundle.proof, siblings: ["0x12"] } }, anchor), /32-byte hex siblings/);
    const flipped = bundle.proof.siblings.map((s: string, i: number) => (i === 0 ? `0x${(parseInt(s[2]!, 16) ^ 8).toString(16)}${s.slice(3)}` : s));
    assert.ok(bundle.proof.siblings.length > 0);
    rejects(verifyProofBundle({ ...bundle, proof: { siblings: flipped } }, anchor), /state proof: proof leads to a different root/);
    rejects(verifyProofBundle(bundle, { ...anchor, chainId: 1 }), /chain id 1/);
    rejects(verifyProofBundle(bundle, evmAnchor), /cannot anchor a consortium-lock bundle/);
  });

  it("consortium: a version 1 bundle (sorted-tree proof) is refused by name, not misread", function () {
    const { bundle, anchor } = consortiumFixture();
    assert.equal(bundle.version, 2);
    const v1 = { ...bundle, version: 1, proof: { index: 0, leafCount: 9, siblings: bundle.proof.siblings } };
    rejects(verifyProofBundle(v1, anchor), /consortium-lock bundle version 1 proves the lock in the sorted state tree the chain no longer commits to; fetch a new bundle \(version 2/);
    rejects(verifyProofBundle({ ...bundle, version: 3 }, anchor), /unsupported bundle version 3 \(this verifier knows 2 for consortium-lock\)/);
    // The EVM and Fabric formats did not change: their version 1 bundles still verify (above).
    rejects(verifyProofBundle({ ...evmBundle, version: 2 }, evmAnchor), /unsupported bundle version 2 \(this verifier knows 1\)/);
  });

  it("isthmus proof verify: prints what a bundle proves, or why it fails (exit 1)", async function () {
    this.timeout(30_000);
    const run = promisify(execFile);
    const cli = path.join(ROOT, "bin/isthmus.js");
    const ok = await run(process.execPath, [cli, "proof", "verify", path.join(VECTORS, "bundle-claimed-lock.json"), "--trust", path.join(VECTORS, "anchor-head.json")]);
    const out = JSON.parse(ok.stdout);
    assert.match(out.proves, /^lock 0x[0-9a-f]{64} is claimed on evm \(chain id 31337\) at height 10$/);
    assert.equal(out.anchored, true);

    const dir = mkdtempSync(path.join(tmpdir(), "isthmus-proof-"));
    const { bundle, anchor } = consortiumFixture();
    writeFileSync(path.join(dir, "c.json"), JSON.stringify(bundle));
    writeFileSync(path.join(dir, "a.json"), JSON.stringify(anchor));
    const c = JSON.parse((await run(process.execPath, [cli, "proof", "verify", path.join(dir, "c.json"), "--trust", path.join(dir, "a.json")])).stdout);
    assert.match(c.proves, /is locked on consortium/);
    // A consortium bundle saved before the state became a sparse tree: refused by name.
    writeFileSync(path.join(dir, "v1.json"), JSON.stringify({ ...bundle, version: 1, proof: { index: 3, leafCount: 17, siblings: bundle.proof.siblings } }));
    await assert.rejects(run(process.execPath, [cli, "proof", "verify", path.join(dir, "v1.json"), "--trust", path.join(dir, "a.json")]), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, /consortium-lock bundle version 1 proves the lock in the sorted state tree the chain no longer commits to; fetch a new bundle/);
      return true;
    });

    const forged = structuredClone(evmBundle);
    forged.storageProof[3].value = "0x1";
    writeFileSync(path.join(dir, "forged.json"), JSON.stringify(forged));
    await assert.rejects(run(process.execPath, [cli, "proof", "verify", path.join(dir, "forged.json")]), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, /does not verify: storage value 3 claimed as 0x1 but the proof shows 0x3039 \[VERIFICATION_FAILED\]/);
      return true;
    });
  });
});
