import assert from "node:assert/strict";
import { AbiCoder, keccak256 } from "ethers";
import { type Hex } from "../../../proofs/hex.ts";
import { verifyEventProof, verifyLockAbsence, verifyLockProof } from "../../../proofs/consortium/entry-proof.ts";
import { type LockAtHead, type LockAbsentAtHead } from "../../../chains/consortium/chain.ts";
import { decodeLock, encodeLock, lockIdFor, lockKey } from "../../../proofs/consortium/state.ts";
import { keccak256 as keccakBytes } from "../../../proofs/consortium/domain.ts";
import { alice, bob, carol, CHAIN_ID, commitBlock, commitFor, openChain, secret, testGenesis, tx, validatorSigners } from "../consortium/helpers.ts";

describe("proofs/consortium/entry-proof: a lock proven against a committed header", () => {
  const genesis = testGenesis();
  const chain = openChain(genesis);
  const { hashlock, preimage } = secret(1);
  const t0 = genesis.timeMs;
  const timelock = Math.floor(t0 / 1000) + 3600;
  const terms = { receiver: bob.address, asset: "KRW", amount: 4200n, hashlock, timelock };
  const lockId = lockIdFor(alice.address, terms);
  commitBlock(chain, [tx(alice, 0, { kind: "lock", ...terms })], t0 + 1000);
  const atLock = chain.lockAtHead(lockId) as LockAtHead;
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
    const block = { header: atLock.header, txs: [], lastCommit: null };
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

describe("proofs/consortium/entry-proof: a lock's absence proven against a committed header", () => {
  const genesis = testGenesis();
  const chain = openChain(genesis);
  const t0 = genesis.timeMs;
  const locks = [1, 2, 3].map((i) => {
    const terms = { receiver: bob.address, asset: "KRW", amount: BigInt(100 + i), hashlock: secret(i).hashlock, timelock: Math.floor(t0 / 1000) + 3600 };
    return { id: lockIdFor(alice.address, terms), terms };
  });
  commitBlock(chain, locks.map((l, i) => tx(alice, i, { kind: "lock", ...l.terms })), t0 + 1000);
  const missing = lockIdFor(carol.address, locks[0]!.terms);
  const anchor = { chainId: CHAIN_ID, validatorSet: genesis.validators };

  it("proves that a lock id is not in the state (and the node serves that proof instead of a bare 'not found')", () => {
    const at = chain.lockAtHead(missing) as LockAbsentAtHead;
    assert.equal(at.found, false);
    const r = verifyLockAbsence({ ...anchor, lockId: missing, ...at });
    assert.ok(r.ok, r.ok ? "" : r.reason);
    assert.equal(r.height, 1);
  });

  it("refuses an absence proof for a lock that exists, whatever path end the node picks", () => {
    const present = locks[1]!.id;
    const other = chain.lockAtHead(missing) as LockAbsentAtHead;
    const r = verifyLockAbsence({ ...anchor, lockId: present, ...other });
    assert.equal(r.ok, false);
    // The present lock's own path, claimed to end empty, or at its own leaf.
    const at = chain.lockAtHead(present) as LockAtHead;
    const asEmpty = verifyLockAbsence({ ...anchor, lockId: present, header: at.header, commit: at.commit, absence: { kind: "empty", siblings: at.proof.siblings } });
    assert.equal(asEmpty.ok, false);
    const own = { kind: "leaf" as const, keyHash: keccakBytes(lockKey(present)), valueHash: keccakBytes(at.value), siblings: at.proof.siblings };
    const asOwn = verifyLockAbsence({ ...anchor, lockId: present, header: at.header, commit: at.commit, absence: own });
    assert.equal(asOwn.ok, false);
    if (!asOwn.ok) assert.match(asOwn.reason, /key is present/);
  });

  it("refuses an absence proof with one flipped bit, or anchored to a forged commit", () => {
    const at = chain.lockAtHead(missing) as LockAbsentAtHead;
    assert.ok(at.absence.siblings.length > 0);
    const flipped = at.absence.siblings.map((s, i) => (i === 0 ? Uint8Array.from(s, (b, j) => (j === 0 ? b ^ 1 : b)) : s));
    assert.equal(verifyLockAbsence({ ...anchor, lockId: missing, ...at, absence: { ...at.absence, siblings: flipped } }).ok, false);
    const weak = commitFor({ header: at.header }, validatorSigners.slice(0, 2));
    const r = verifyLockAbsence({ ...anchor, lockId: missing, ...at, commit: weak });
    assert.equal(r.ok, false);
  });
});
