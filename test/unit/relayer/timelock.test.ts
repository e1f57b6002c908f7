import assert from "node:assert/strict";
import type { LedgerTiming } from "../../../chains/ledger.ts";
import { computeMargin, maxClockGapSec, minUserLockSec, planCounterLock, type TimelockPolicy } from "../../../relayer/core/timelock.ts";

const consortium: LedgerTiming = { blockTimeSec: 1, finalitySec: 1, clockSkewSec: 2 };
const evm: LedgerTiming = { blockTimeSec: 1, finalitySec: 3, clockSkewSec: 2 };
const policy: TimelockPolicy = { safetyBufferSec: 10, minClaimWindowSec: 60, maxRelayerLockSec: 1800, quoteTtlSec: 900, reactionSec: 3 };
const plan = (userTimelock: number, sourceFinalizedTime: number, destFinalizedTime: number) =>
  planCounterLock({ userTimelock, sourceFinalizedTime, destFinalizedTime, source: consortium, dest: evm, policy });

describe("timelock margin", () => {
  it("adds destination finality, source inclusion and finality, both skews, reaction and buffer", () => {
    const m = computeMargin(consortium, evm, policy);
    // 3 (evm finality) + 3 (reaction) + 2 (2 consortium blocks) + 1 (consortium finality) + 2 + 2 (skews) + 10
    assert.equal(m.totalSec, 23);
    assert.equal(Object.values(m.terms).reduce((a, b) => a + b, 0), 23);
  });

  it("places the counter-lock one margin, plus the source head's possible lead, before the user's timelock", () => {
    const p = plan(10_000, 9_000, 9_000);
    assert.ok(p.ok);
    assert.equal(p.clockGapSec, 1);
    assert.equal(p.timelock, 10_000 - 1 - 23);
  });

  it("moves the counter-lock earlier by how far the source clock reads ahead", () => {
    const p = plan(10_000, 9_008, 9_000);
    assert.ok(p.ok);
    assert.equal(p.timelock, 10_000 - (8 + 1) - 23);
  });

  it("refuses clocks further apart than their skew bounds allow, in either direction", () => {
    const bound = maxClockGapSec(consortium, evm);
    assert.equal(bound, 10);
    for (const [src, dst] of [[9_011, 9_000], [9_000, 9_011]]) {
      const p = plan(10_000, src!, dst!);
      assert.equal(p.ok, false);
      assert.ok(!p.ok && p.reason === "CLOCK_SKEW", JSON.stringify(p));
    }
    assert.ok(plan(10_000, 9_010, 9_000).ok);
  });

  it("caps how long relayer funds stay locked", () => {
    const p = plan(1_000_000, 1_000, 1_000);
    assert.ok(p.ok);
    assert.equal(p.timelock, 1_000 + evm.finalitySec + policy.maxRelayerLockSec);
  });

  it("refuses a user timelock that leaves less than the minimum claim window", () => {
    const p = plan(5_000 + 60, 5_000, 5_000);
    assert.ok(!p.ok && p.reason === "TIMELOCK_TOO_SHORT");
  });

  it("accepts the advertised minimum user timelock even with both heads at their worst honest lag", () => {
    const now = 5_000;
    const min = minUserLockSec(consortium, evm, policy);
    assert.ok(plan(now + min, now, now - evm.finalitySec).ok);
    assert.equal(plan(now + min - 30, now, now).ok, false);
  });

  it("accepts the advertised minimum measured when the user sets the lock, after the source clock moved on while the lock was included, made final and noticed", () => {
    const now = 5_000;
    const min = minUserLockSec(consortium, evm, policy);
    const seen = now + 2 * consortium.blockTimeSec + consortium.finalitySec + policy.reactionSec;
    assert.ok(plan(now + min, seen, seen - evm.finalitySec).ok, JSON.stringify(plan(now + min, seen, seen - evm.finalitySec)));
    assert.ok(plan(now + min, seen, seen).ok);
  });

  it("always plans whole seconds", () => {
    const frac: LedgerTiming = { blockTimeSec: 0.25, finalitySec: 0.25, clockSkewSec: 2 };
    const p = planCounterLock({ userTimelock: 8_200, sourceFinalizedTime: 1_000, destFinalizedTime: 1_000, source: frac, dest: frac, policy });
    assert.ok(p.ok && Number.isInteger(p.timelock), JSON.stringify(p));
  });
});
