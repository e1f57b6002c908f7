import assert from "node:assert/strict";
import { AbiCoder, keccak256 } from "ethers";
import { type Hex } from "../../../proofs/hex.ts";
import { verifyEventProof, verifyLockProof } from "../../../proofs/consortium/entry-proof.ts";
import { decodeLock, encodeLock, lockIdFor } from "../../../proofs/consortium/state.ts";
import { alice, bob, CHAIN_ID, commitBlock, commitFor, openChain, secret, testGenesis, tx, validatorSigners } from "../consortium/helpers.ts";

describe("proofs/consortium/entry-proof: a lock proven against a committed header", () => {
  const genesis = testGenesis();
  const chain = openChain(genesis);
  const { hashlock, preimage } = secret(1);
  const t0 = genesis.timeMs;
  const timelock = Math.floor(t0 / 1000) + 3600;
  const terms = { receiver: bob.address, asset: "KRW", amount: 4200n, hashlock, timelock };
  const lockId = lockIdFor(alice.address, terms);
  commitBlock(chain, [tx(alice, 0, { kind: "lock", ...terms })], t0 + 1000);
  const atLock = chain.lockAtHead(lockId)!;
  const params = { chainId: CHAIN_ID, validatorSet: genesis.validators, lockId, ...atLock };

  it("derives lock ids as keccak256(abi.encode(sender, receiver, asset, amount, hashlock, timelock))", () => {
    const expected = keccak256(
      AbiCoder.defaultAbiCoder().encode(["address", "address", "string", "uint256", "bytes32", "uint64"], [alice.address, bob.address, "KRW", 4200n, hashlock, timelock]),
    );
    assert.equal(lockId, expected);
  });

  it("verifies the lock, returning its fields, height and state root", () => {
    const r = verifyLockProof(params);
    assert.ok(r.ok, r.ok ? "" : r.reason);
    assert.deepEqual(r.lock, { sender: alice.address, ...terms, status: "locked", preimage: null });
    assert.equal(r.height, 1);
    assert.equal(r.stateRoot, atLock.header.stateRoot);
  });

  const fails = (overrides: Partial<typeof params>, reason: RegExp) => {
    const r = verifyLockProof({ ...params, ...overrides });
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.reason, reason);
  };

  it("fails for a tampered value (another amount)", () => {
    const d = decodeLock(atLock.value);
    assert.ok(d.ok);
    fails({ value: encodeLock({ ...d.value, amount: 1n }) }, /do not hash to the lock id/);
  });
  it("fails for a tampered value that keeps the id (status claimed, with a matching preimage)", () => {
    const d = decodeLock(atLock.value);
    assert.ok(d.ok);
    fails({ value: encodeLock({ ...d.value, status: "claimed", preimage }) }, /state proof/);
  });
  it("fails for a tampered sibling", () => {
    const siblings = atLock.proof.siblings.map((s) => s.slice());
    siblings[0]![5]! ^= 1;
    fails({ proof: { ...atLock.proof, siblings } }, /state proof/);
  });
  it("fails for a header whose state root was altered (its commit no longer matches)", () => {
    fails({ header: { ...atLock.header, stateRoot: `0x${"00".repeat(32)}` as Hex } }, /commit/);
  });
  it("fails for a commit signed by too little stake", () => {
    const block = { header: atLock.header, txs: [] };
    fails({ commit: commitFor(block, validatorSigners.slice(0, 2)) }, /not more than 2\/3/);
  });
  it("fails for the wrong chain id", () => fails({ chainId: CHAIN_ID + 1 }, /chain/));
  it("fails for another lock id", () => fails({ lockId: `0x${"ab".repeat(32)}` }, /do not hash/));

  it("proves a claimed lock with its preimage, and events against the results root", () => {
    const claimTx = tx(bob, 0, { kind: "claim", lockId, preimage });
    commitBlock(chain, [claimTx], t0 + 2000);
    const claimed = chain.lockAtHead(lockId)!;
    const r = verifyLockProof({ ...params, ...claimed });
    assert.ok(r.ok);
    assert.equal(r.lock.status, "claimed");
    assert.equal(r.lock.preimage, preimage);
    const block = chain.block(2)!;
    const [ev] = chain.provenEvents(block);
    const v = verifyEventProof({ chainId: CHAIN_ID, validatorSet: genesis.validators, header: block.header, commit: block.commit, ...ev! });
    assert.ok(v.ok, v.ok ? "" : v.reason);
    assert.deepEqual(v.event, { kind: "claimed", lockId, receiver: bob.address, preimage });
    assert.equal(v.txHash, claimTx.hash);
    assert.equal(verifyEventProof({ chainId: CHAIN_ID, validatorSet: genesis.validators, header: block.header, commit: block.commit, ...ev!, eventIndex: 1 }).ok, false);
  });

  it("refuses to decode a claimed lock whose preimage does not match its hashlock", () => {
    const d = decodeLock(atLock.value);
    assert.ok(d.ok);
    const bad = encodeLock({ ...d.value, status: "claimed", preimage: `0x${"99".repeat(32)}` });
    const r = decodeLock(bad);
    assert.equal(r.ok, false);
  });
});
