import assert from "node:assert/strict";
import type { LedgerTiming } from "../../../chains/ledger.ts";
import { computeMargin, minUserLockSec, planCounterLock, type TimelockPolicy } from "../../../relayer/core/timelock.ts";

const consortium: LedgerTiming = { blockTimeSec: 1, finalitySec: 1, clockSkewSec: 2 };
const evm: LedgerTiming = { blockTimeSec: 1, finalitySec: 3, clockSkewSec: 2 };
const policy: TimelockPolicy = { safetyBufferSec: 10, minClaimWindowSec: 60, maxRelayerLockSec: 1800, quoteTtlSec: 900, reactionSec: 3 };

describe("timelock margin", () => {
  it("adds destination finality, source inclusion and finality, both skews, reaction and buffer", () => {
    const m = computeMargin(consortium, evm, policy);
    // 3 (evm finality) + 3 (reaction) + 2 (2 consortium blocks) + 1 (consortium finality) + 2 + 2 (skews) + 10
    assert.equal(m.totalSec, 23);
    assert.equal(Object.values(m.terms).reduce((a, b) => a + b, 0), 23);
  });

  it("places the counter-lock exactly one margin before the user's timelock", () => {
    const plan = planCounterLock({ userTimelock: 10_000, destFinalizedTime: 9_000, source: consortium, dest: evm, policy });
    assert.ok(plan.ok);
    assert.equal(plan.timelock, 10_000 - 23);
  });

  it("caps how long relayer funds stay locked", () => {
    const plan = planCounterLock({ userTimelock: 1_000_000, destFinalizedTime: 1_000, source: consortium, dest: evm, policy });
    assert.ok(plan.ok);
    assert.equal(plan.timelock, 1_000 + evm.finalitySec + policy.maxRelayerLockSec);
  });

  it("refuses a user timelock that leaves less than the minimum claim window", () => {
    const now = 5_000;
    const plan = planCounterLock({ userTimelock: now + 60, destFinalizedTime: now, source: consortium, dest: evm, policy });
    assert.equal(plan.ok, false);
    assert.ok(!plan.ok && plan.reason === "TIMELOCK_TOO_SHORT");
  });

  it("accepts exactly the advertised minimum user timelock", () => {
    const now = 5_000;
    const min = minUserLockSec(consortium, evm, policy);
    // The relayer sees the lock once source-final, and the destination's clock may lag by its finality.
    const ok = planCounterLock({ userTimelock: now + min, destFinalizedTime: now - evm.finalitySec, source: consortium, dest: evm, policy });
    assert.ok(ok.ok);
    const short = planCounterLock({ userTimelock: now + min - 30, destFinalizedTime: now, source: consortium, dest: evm, policy });
    assert.equal(short.ok, false);
  });
});
