import assert from "node:assert/strict";
import {
  assessUserLock,
  decideAwaiting,
  decideClaiming,
  decideLocked,
  decideLocking,
  decideRefunding,
} from "../../../relayer/core/decide.ts";
import type { SwapIn } from "../../../relayer/core/swap.ts";
import { awaiting, counter, DEST, locking, POLICY, PREIMAGE, SOURCE, userLock, verified } from "./fixtures.ts";

const assess = (lock = userLock(), sourceFinalizedTime = 1_000, destFinalizedTime = sourceFinalizedTime) =>
  assessUserLock({ swap: awaiting(), lock, txId: null, sourceFinalizedTime, destFinalizedTime: destFinalizedTime ?? sourceFinalizedTime, source: SOURCE, dest: DEST, policy: POLICY });

describe("decisions: the user's lock", () => {
  it("accepts a lock that matches the terms and plans the counter-lock one margin earlier", () => {
    const v = assess();
    assert.ok(v.ok === true);
    assert.equal(v.counterTimelock, 1_600 - 1 - 23);
  });

  for (const [name, lock, reason, destTime] of [
    ["wrong asset", userLock({ asset: "ISTH" }), "ASSET_MISMATCH"],
    ["too little", userLock({ amount: 9999n }), "AMOUNT_MISMATCH"],
    ["too much", userLock({ amount: 10001n }), "AMOUNT_MISMATCH"],
    ["already refunded", userLock({ status: "refunded" }), "LOCK_NOT_OPEN"],
    ["too short a timelock", userLock({ timelock: 1_000 + 60 }), "TIMELOCK_TOO_SHORT"],
    ["the source clock far ahead", userLock(), "CLOCK_SKEW", 1_000 - 100],
  ] as const) {
    it(`rejects a lock with ${name} (${reason})`, () => {
      const v = assess(lock, 1_000, destTime);
      assert.equal(v.ok, false);
      assert.equal(v.ok === false && v.reason, reason);
    });
  }

  // Hashlocks are public once a lock is on chain: a stranger's lock must not decide the swap.
  for (const [name, lock] of [
    ["another sender", userLock({ sender: `0x${"44".repeat(20)}`, amount: 1n })],
    ["another receiver", userLock({ receiver: `0x${"33".repeat(20)}` })],
    ["another hashlock", userLock({ hashlock: `0x${"ef".repeat(32)}` })],
  ] as const) {
    it(`ignores a lock from ${name}, leaving the swap waiting for its user`, () => {
      assert.equal(assess(lock).ok, "ignore");
    });
  }

  it("plans whole-second timelocks even when chain timings are fractional", () => {
    const v = assessUserLock({
      swap: awaiting(),
      lock: userLock({ timelock: 1_000 + 7200 }),
      txId: null,
      sourceFinalizedTime: 1_000,
      destFinalizedTime: 1_000,
      source: { ...SOURCE, finalitySec: 0.25, blockTimeSec: 0.25 },
      dest: { ...DEST, finalitySec: 0.25, blockTimeSec: 0.25 },
      policy: POLICY,
    });
    assert.ok(v.ok === true);
    assert.ok(Number.isInteger(v.counterTimelock), String(v.counterTimelock));
  });

  it("expires a swap only once the source chain passes the quote deadline", () => {
    assert.equal(decideAwaiting(awaiting(), 1_999).kind, "wait");
    const step = decideAwaiting(awaiting(), 2_000);
    assert.ok(step.kind === "transition" && step.next.state === "expired");
  });
});

describe("decisions: the counter-lock", () => {
  it("sends the counter-lock until it is visible final, then moves on", () => {
    assert.deepEqual(decideLocking(locking(), null), { kind: "send", action: "counter-lock" });
    const step = decideLocking(locking(), counter("locked"));
    assert.ok(step.kind === "transition" && step.next.state === "relayer_locked");
  });

  const locked = (): SwapIn<"relayer_locked"> => ({ ...locking(), state: "relayer_locked" });

  it("learns the preimage when the user claims", () => {
    const step = decideLocked(locked(), counter("claimed"), 1_000);
    assert.ok(step.kind === "transition" && step.next.state === "relayer_claiming");
    assert.equal(step.kind === "transition" && step.next.state === "relayer_claiming" && step.next.preimage, PREIMAGE);
  });

  it("waits before the counter-lock's timelock and refunds at it, by chain time", () => {
    assert.equal(decideLocked(locked(), counter("locked"), 1_576).kind, "wait");
    const step = decideLocked(locked(), counter("locked"), 1_577);
    assert.ok(step.kind === "transition" && step.next.state === "relayer_refunding");
  });

  it("after deciding to refund, still claims the source if the user's claim won the race", () => {
    const refunding: SwapIn<"relayer_refunding"> = { ...locked(), state: "relayer_refunding", refundTxId: null };
    assert.deepEqual(decideRefunding(refunding, counter("locked")), { kind: "send", action: "refund" });
    const step = decideRefunding(refunding, counter("claimed"));
    assert.ok(step.kind === "transition" && step.next.state === "relayer_claiming");
    assert.ok(!("refundTxId" in (step.kind === "transition" ? step.next : {})));
    const done = decideRefunding(refunding, counter("refunded"));
    assert.ok(done.kind === "transition" && done.next.state === "refunded");
  });
});

describe("decisions: claiming the source", () => {
  const claiming = (): SwapIn<"relayer_claiming"> => ({ ...locking(), state: "relayer_claiming", preimage: PREIMAGE, claimTxId: null });

  it("claims while the user's lock is proven open, whatever a head says about time (the ledger enforces expiry)", () => {
    assert.deepEqual(decideClaiming(claiming(), verified(userLock())), { kind: "send", action: "claim" });
  });

  it("completes once the claim is final", () => {
    const step = decideClaiming(claiming(), verified(userLock({ status: "claimed", preimage: PREIMAGE } as never)));
    assert.ok(step.kind === "transition" && step.next.state === "completed");
  });

  it("flags a loss for the operator only once the source lock is proven refunded", () => {
    const refunded = decideClaiming(claiming(), verified(userLock({ status: "refunded" })));
    assert.ok(refunded.kind === "transition" && refunded.next.state === "failed");
    assert.equal(decideClaiming(claiming(), null).kind, "wait");
  });
});
