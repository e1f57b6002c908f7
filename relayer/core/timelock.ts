import type { LedgerTiming } from "../../chains/ledger.ts";

/** Operator-chosen slack, in seconds. Defaults live in the config file. */
export interface TimelockPolicy {
  /** Extra slack added to the computed margin. */
  readonly safetyBufferSec: number;
  /** Least time the user keeps to claim the counter-lock once it is final. */
  readonly minClaimWindowSec: number;
  /** Longest the relayer's own funds may stay locked in one swap. */
  readonly maxRelayerLockSec: number;
  /** How long a created swap waits for the user's lock (in the source chain's time). */
  readonly quoteTtlSec: number;
  /** Allowance for the relayer noticing a final event and getting its transaction out. */
  readonly reactionSec: number;
}

/** The margin between the user's timelock and the relayer's, with each term named so it can be printed. */
export interface Margin {
  readonly totalSec: number;
  readonly terms: Readonly<Record<string, number>>;
}

/**
 * T_relayer <= T_user - margin. The margin covers the worst case: the user claims on the
 * destination at the last instant before T_relayer, and the relayer must still see that
 * claim final, get its own claim included and final on the source before T_user, on two
 * clocks that may each be off by their skew bound.
 */
export function computeMargin(source: LedgerTiming, dest: LedgerTiming, policy: TimelockPolicy): Margin {
  const terms = {
    destFinality: dest.finalitySec,
    reaction: policy.reactionSec,
    sourceInclusion: 2 * source.blockTimeSec,
    sourceFinality: source.finalitySec,
    sourceClockSkew: source.clockSkewSec,
    destClockSkew: dest.clockSkewSec,
    safetyBuffer: policy.safetyBufferSec,
  };
  const totalSec = Math.ceil(Object.values(terms).reduce((a, b) => a + b, 0));
  return { totalSec, terms };
}

/**
 * The shortest user timelock the relayer will answer, in seconds from the source chain's
 * finalized time when the user reads it to set the lock (what the SDK and CLI do).
 */
export function minUserLockSec(source: LedgerTiming, dest: LedgerTiming, policy: TimelockPolicy): number {
  const margin = computeMargin(source, dest, policy).totalSec;
  // Honest clocks may still read apart by both finality lags (see planCounterLock); then
  // the time to see the user's lock final and get the counter-lock final; then the window.
  const apparentGap = source.finalitySec + dest.finalitySec;
  const setup = source.finalitySec + policy.reactionSec + dest.blockTimeSec + dest.finalitySec;
  // The source clock moves on while the user's lock is included, made final and noticed,
  // before planCounterLock reads it: without this a timelock of exactly the minimum was
  // refused (TIMELOCK_TOO_SHORT) after the user had locked.
  const userLockSeen = 2 * source.blockTimeSec + source.finalitySec + policy.reactionSec;
  return Math.ceil(margin + apparentGap + setup + userLockSeen + policy.minClaimWindowSec);
}

export type CounterLockPlan =
  | { readonly ok: true; readonly timelock: number; readonly claimWindowSec: number; readonly clockGapSec: number }
  | { readonly ok: false; readonly reason: "TIMELOCK_TOO_SHORT" | "CLOCK_SKEW"; readonly detail: string };

/**
 * How far the two ledgers' clocks may be seen apart through their finalized heads while
 * each stays within its skew bound: both bounds, plus the finality and block-time lag
 * with which each head trails its ledger's true time.
 */
export function maxClockGapSec(source: LedgerTiming, dest: LedgerTiming): number {
  return source.clockSkewSec + dest.clockSkewSec + source.finalitySec + dest.finalitySec + source.blockTimeSec + dest.blockTimeSec;
}

/**
 * Choose the counter-lock's timelock from chain times only.
 * The finalized times trail each ledger's true time by up to its finality delay. The
 * user's timelock is in source time and the counter-lock's in destination time: when the
 * source clock reads ahead, T_user comes sooner in destination terms, so the observed gap
 * is subtracted too. Clocks further apart than their stated bounds allow are refused.
 */
export function planCounterLock(params: {
  readonly userTimelock: number;
  readonly sourceFinalizedTime: number;
  readonly destFinalizedTime: number;
  readonly source: LedgerTiming;
  readonly dest: LedgerTiming;
  readonly policy: TimelockPolicy;
}): CounterLockPlan {
  const { userTimelock, sourceFinalizedTime, destFinalizedTime, source, dest, policy } = params;
  const margin = computeMargin(source, dest, policy).totalSec;
  const destNow = destFinalizedTime + dest.finalitySec;
  const observedGap = sourceFinalizedTime - destFinalizedTime;
  const bound = maxClockGapSec(source, dest);
  if (Math.abs(observedGap) > bound) {
    return {
      ok: false,
      reason: "CLOCK_SKEW",
      detail: `source and destination clocks read ${observedGap}s apart, beyond the ${bound}s their skew bounds allow`,
    };
  }
  // Upper bound on how far the source clock runs ahead of the destination's.
  const clockGapSec = Math.max(0, sourceFinalizedTime + source.finalitySec - destFinalizedTime);
  // Ledgers take whole seconds; round down so the counter-lock never outlives the margin.
  const timelock = Math.floor(Math.min(userTimelock - clockGapSec - margin, destNow + policy.maxRelayerLockSec));
  // When our lock becomes final the user has this long to claim.
  const claimWindowSec = timelock - (destNow + policy.reactionSec + dest.blockTimeSec + dest.finalitySec);
  if (claimWindowSec < policy.minClaimWindowSec) {
    return {
      ok: false,
      reason: "TIMELOCK_TOO_SHORT",
      detail:
        `user timelock ${userTimelock} leaves the user ${Math.max(0, Math.floor(claimWindowSec))}s to claim after a ` +
        `${margin}s margin; at least ${policy.minClaimWindowSec}s is required`,
    };
  }
  return { ok: true, timelock, claimWindowSec, clockGapSec };
}
