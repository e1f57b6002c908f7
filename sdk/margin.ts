/**
 * The SDK's own rule for a counter-lock's timelock, independent of what the relayer says.
 *
 * Two conditions, both in chain time (never the wall clock):
 *
 * 1. Claim window. Once the preimage is revealed on the destination ledger, the claim must
 *    be included and final before the counter-lock expires, or the relayer could refund it
 *    and still claim the user's lock with the now public preimage. So at the moment of
 *    claiming, the counter-lock must have at least
 *      claimWindowSec(dest) = 2 blocks (inclusion) + dest finality + dest clock skew
 *    left after the destination's current time (its finalized time plus its finality lag).
 *
 * 2. Timelock gap. The counter-lock must expire well before the user's lock: the relayer
 *    publishes the margin it keeps (`marginSec` in its quote), and the SDK demands
 *      T_user - T_counter >= max(quoted margin, minGapSec(source, dest) + clock gap)
 *    where minGapSec covers what any honest relayer needs after the user's last-instant
 *    claim (see `minGapSec`), and the clock gap is how far the source clock may read ahead
 *    of the destination's, from their finalized heads and finality lags. A relayer that
 *    leaves less is refused: it either miscounts time or is setting the user up.
 */
import type { LedgerHead, LedgerTiming } from "../chains/ledger.ts";

/** Least seconds a counter-lock must still run when the SDK reveals the preimage by claiming it. */
export function claimWindowSec(dest: LedgerTiming): number {
  return Math.ceil(2 * dest.blockTimeSec + dest.finalitySec + dest.clockSkewSec);
}

/**
 * Least seconds between the counter-lock's and the user's timelock, from both chains'
 * timing alone: the destination claim becoming final, the source claim being included and
 * becoming final, and both clocks' skew bounds.
 */
export function minGapSec(source: LedgerTiming, dest: LedgerTiming): number {
  return Math.ceil(dest.finalitySec + 2 * source.blockTimeSec + source.finalitySec + source.clockSkewSec + dest.clockSkewSec);
}

export type MarginCheck =
  | { readonly ok: true; readonly claimWindowSec: number; readonly gapSec: number }
  | { readonly ok: false; readonly which: "claim-window" | "timelock-gap"; readonly requiredSec: number; readonly actualSec: number };

/** Pure: does a counter-lock with `counterTimelock` satisfy both conditions, given both ledgers' heads now? */
export function checkMargin(p: {
  readonly userTimelock: number;
  readonly counterTimelock: number;
  readonly quotedMarginSec: number;
  readonly source: LedgerTiming;
  readonly dest: LedgerTiming;
  readonly sourceHead: Pick<LedgerHead, "finalizedTime">;
  readonly destHead: Pick<LedgerHead, "finalizedTime">;
}): MarginCheck {
  const destNow = p.destHead.finalizedTime + p.dest.finalitySec;
  const window = p.counterTimelock - destNow;
  const needWindow = claimWindowSec(p.dest);
  if (window < needWindow) return { ok: false, which: "claim-window", requiredSec: needWindow, actualSec: window };
  const clockGap = Math.max(0, p.sourceHead.finalizedTime + p.source.finalitySec - p.destHead.finalizedTime);
  const gap = p.userTimelock - p.counterTimelock;
  const needGap = Math.max(p.quotedMarginSec, minGapSec(p.source, p.dest) + clockGap);
  if (gap < needGap) return { ok: false, which: "timelock-gap", requiredSec: needGap, actualSec: gap };
  return { ok: true, claimWindowSec: window, gapSec: gap };
}
