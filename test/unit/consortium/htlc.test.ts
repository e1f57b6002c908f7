import assert from "node:assert/strict";
import { type Hex } from "../../../proofs/hex.ts";
import { decodeTxResult } from "../../../proofs/consortium/results.ts";
import { lockIdFor } from "../../../proofs/consortium/state.ts";
import { TxErrorCode, TxRejectedError } from "../../../chains/consortium/codes.ts";
import { genesisState } from "../../../chains/consortium/genesis.ts";
import { claim, lock, LOCK_TRANSITIONS, refund } from "../../../chains/consortium/htlc.ts";
import { LedgerState } from "../../../chains/consortium/ledger-state.ts";
import { alice, bob, carol, commitBlock, openChain, secret, testGenesis, tx } from "./helpers.ts";

const TIMELOCK = 1_800_000_000;
const { preimage, hashlock } = secret(7);
const terms = { receiver: bob.address, asset: "KRW", amount: 1000n, hashlock, timelock: TIMELOCK };

function setup() {
  const state = new LedgerState(genesisState(testGenesis()));
  const { lockId } = lock(state, alice.address, terms, TIMELOCK - 100);
  return { state, lockId };
}

function failsWith(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => err instanceof TxRejectedError && err.code === code);
}

describe("consortium HTLC module", () => {
  it("lock escrows the amount under a deterministic id, lockIdFor(sender, params)", () => {
    const { state, lockId } = setup();
    assert.equal(lockId, lockIdFor(alice.address, terms));
    assert.equal(state.balance(alice.address, "KRW"), 100_000_000n - 1000n);
    assert.deepEqual(state.lock(lockId), { sender: alice.address, ...terms, status: "locked", preimage: null });
  });

  it("locking the same parameters twice fails with LOCK_EXISTS", () => {
    const { state } = setup();
    failsWith(() => lock(state, alice.address, terms, TIMELOCK - 100), TxErrorCode.LOCK_EXISTS);
  });

  it("a lock whose timelock is not in the future fails with BAD_TIMELOCK", () => {
    const state = new LedgerState(genesisState(testGenesis()));
    failsWith(() => lock(state, alice.address, terms, TIMELOCK), TxErrorCode.BAD_TIMELOCK);
  });

  it("a lock beyond the balance fails with INSUFFICIENT_FUNDS, of an unknown asset with UNKNOWN_ASSET", () => {
    const state = new LedgerState(genesisState(testGenesis()));
    failsWith(() => lock(state, bob.address, terms, 0), TxErrorCode.INSUFFICIENT_FUNDS);
    failsWith(() => lock(state, alice.address, { ...terms, asset: "USD" }, 0), TxErrorCode.UNKNOWN_ASSET);
  });

  it("claim strictly before the timelock pays the receiver and records the preimage", () => {
    const { state, lockId } = setup();
    claim(state, lockId, preimage, TIMELOCK - 1);
    assert.equal(state.balance(bob.address, "KRW"), 1000n);
    assert.deepEqual(state.lock(lockId), { sender: alice.address, ...terms, status: "claimed", preimage });
  });

  it("claim at the timelock fails with LOCK_EXPIRED", () => {
    const { state, lockId } = setup();
    failsWith(() => claim(state, lockId, preimage, TIMELOCK), TxErrorCode.LOCK_EXPIRED);
    failsWith(() => claim(state, lockId, preimage, TIMELOCK + 1), TxErrorCode.LOCK_EXPIRED);
  });

  it("claim with a wrong preimage fails with WRONG_PREIMAGE", () => {
    const { state, lockId } = setup();
    failsWith(() => claim(state, lockId, secret(8).preimage, TIMELOCK - 1), TxErrorCode.WRONG_PREIMAGE);
    assert.equal(state.lock(lockId)!.status, "locked");
  });

  it("claim or refund of an unknown lock fails with LOCK_NOT_FOUND", () => {
    const { state } = setup();
    const unknown = `0x${"12".repeat(32)}` as Hex;
    failsWith(() => claim(state, unknown, preimage, 0), TxErrorCode.LOCK_NOT_FOUND);
    failsWith(() => refund(state, unknown, TIMELOCK), TxErrorCode.LOCK_NOT_FOUND);
  });

  it("refund before the timelock fails with LOCK_NOT_EXPIRED", () => {
    const { state, lockId } = setup();
    failsWith(() => refund(state, lockId, TIMELOCK - 1), TxErrorCode.LOCK_NOT_EXPIRED);
  });

  it("refund at and after the timelock pays the sender back", () => {
    for (const now of [TIMELOCK, TIMELOCK + 3600]) {
      const { state, lockId } = setup();
      refund(state, lockId, now);
      assert.equal(state.balance(alice.address, "KRW"), 100_000_000n);
      assert.equal(state.lock(lockId)!.status, "refunded");
    }
  });

  it("exactly one of claim/refund ever happens: double claim, claim after refund and refund after claim fail with LOCK_NOT_OPEN", () => {
    const claimed = setup();
    claim(claimed.state, claimed.lockId, preimage, TIMELOCK - 1);
    failsWith(() => claim(claimed.state, claimed.lockId, preimage, TIMELOCK - 1), TxErrorCode.LOCK_NOT_OPEN);
    failsWith(() => refund(claimed.state, claimed.lockId, TIMELOCK), TxErrorCode.LOCK_NOT_OPEN);
    const refunded = setup();
    refund(refunded.state, refunded.lockId, TIMELOCK);
    failsWith(() => claim(refunded.state, refunded.lockId, preimage, TIMELOCK - 1), TxErrorCode.LOCK_NOT_OPEN);
    failsWith(() => refund(refunded.state, refunded.lockId, TIMELOCK), TxErrorCode.LOCK_NOT_OPEN);
    assert.deepEqual(LOCK_TRANSITIONS, { locked: ["claimed", "refunded"], claimed: [], refunded: [] });
  });

  describe("in blocks: timelocks compare with floor(header.timeMs / 1000)", () => {
    const genesis = testGenesis({ timeMs: (TIMELOCK - 1000) * 1000 });
    const run = (timeMs: number, kind: "claim" | "refund", by = carol) => {
      const chain = openChain(genesis);
      const lockId = lockIdFor(alice.address, terms);
      commitBlock(chain, [tx(alice, 0, { kind: "lock", ...terms })], genesis.timeMs + 1000);
      const body = kind === "claim" ? { kind, lockId, preimage } : { kind, lockId };
      const block = commitBlock(chain, [tx(by, 0, body)], timeMs);
      const result = decodeTxResult(block.outcomes[0]!.result);
      assert.ok(result.ok);
      return { chain, result: result.value };
    };

    it("a claim in the last millisecond before the timelock succeeds, and pays the receiver even when a third party submits it", () => {
      const { chain, result } = run(TIMELOCK * 1000 - 1, "claim", carol);
      assert.equal(result.ok, true);
      assert.equal(chain.balance(bob.address, "KRW"), 1000n);
      assert.equal(chain.balance(carol.address, "KRW"), 0n);
    });

    it("a claim in a block stamped exactly at the timelock is recorded as failed LOCK_EXPIRED", () => {
      const { chain, result } = run(TIMELOCK * 1000, "claim");
      assert.equal(result.ok, false);
      assert.equal(result.code, TxErrorCode.LOCK_EXPIRED);
      assert.equal(chain.balance(bob.address, "KRW"), 0n);
    });

    it("a refund one millisecond before the timelock fails; at the timelock it pays the sender, whoever submits it", () => {
      assert.equal(run(TIMELOCK * 1000 - 1, "refund").result.code, TxErrorCode.LOCK_NOT_EXPIRED);
      const { chain, result } = run(TIMELOCK * 1000, "refund", carol);
      assert.equal(result.ok, true);
      assert.equal(chain.balance(alice.address, "KRW"), 100_000_000n);
    });
  });
});
