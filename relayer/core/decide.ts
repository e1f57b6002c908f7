import type { HtlcLock, LedgerTiming, VerifiedLock } from "../../chains/ledger.ts";
import type { LockRef, RejectReason, Swap, SwapIn } from "./swap.ts";
import { planCounterLock, type TimelockPolicy } from "./timelock.ts";

/**
 * Pure decisions: given a stored swap and what the ledgers say (already final and
 * verified by the adapters), what happens next. The engine does the I/O around them.
 */

export type Step =
  | { readonly kind: "wait"; readonly why: string }
  | { readonly kind: "transition"; readonly next: Swap; readonly note: string }
  | { readonly kind: "send"; readonly action: "counter-lock" | "claim" | "refund" };

export type UserLockVerdict =
  | { readonly ok: true; readonly counterTimelock: number; readonly userLock: LockRef }
  | { readonly ok: false; readonly reason: RejectReason; readonly detail: string }
  /** Not the swap's user's lock (anyone can copy a hashlock): ignore it, the swap still waits. */
  | { readonly ok: "ignore"; readonly detail: string };

/** Check a verified, final user lock against the swap's terms before any relayer funds move. */
export function assessUserLock(params: {
  readonly swap: SwapIn<"awaiting_user_lock">;
  readonly lock: HtlcLock;
  readonly txId: `0x${string}` | null;
  readonly sourceFinalizedTime: number;
  readonly destFinalizedTime: number;
  readonly source: LedgerTiming;
  readonly dest: LedgerTiming;
  readonly policy: TimelockPolicy;
}): UserLockVerdict {
  const { swap, lock } = params;
  const reject = (reason: RejectReason, detail: string): UserLockVerdict => ({ ok: false, reason, detail });
  if (lock.hashlock !== swap.hashlock) return { ok: "ignore", detail: `lock hashlock ${lock.hashlock} is not the swap's ${swap.hashlock}` };
  if (lock.sender !== swap.userFrom) return { ok: "ignore", detail: `lock sent by ${lock.sender}, not the swap's user ${swap.userFrom}` };
  if (lock.receiver !== swap.relayerFrom) return { ok: "ignore", detail: `lock pays ${lock.receiver}, not the relayer's ${swap.relayerFrom}` };
  if (lock.asset !== swap.from.asset) return reject("ASSET_MISMATCH", `lock holds ${lock.asset}, the swap needs ${swap.from.asset}`);
  if (lock.amount !== swap.amountIn) {
    return reject("AMOUNT_MISMATCH", `lock holds ${lock.amount} base units, the swap is for ${swap.amountIn}`);
  }
  if (lock.status !== "locked") return reject("LOCK_NOT_OPEN", `lock is already ${lock.status}`);
  const plan = planCounterLock({
    userTimelock: lock.timelock,
    sourceFinalizedTime: params.sourceFinalizedTime,
    destFinalizedTime: params.destFinalizedTime,
    source: params.source,
    dest: params.dest,
    policy: params.policy,
  });
  if (!plan.ok) return reject(plan.reason, plan.detail);
  return {
    ok: true,
    counterTimelock: plan.timelock,
    userLock: { chain: lock.chain, lockId: lock.lockId, txId: params.txId, amount: lock.amount, timelock: lock.timelock },
  };
}

/** A swap still waiting for the user: expire it once the source chain passes the quote's deadline. */
export function decideAwaiting(swap: SwapIn<"awaiting_user_lock">, sourceFinalizedTime: number): Step {
  if (sourceFinalizedTime >= swap.quoteExpiresAt) {
    return { kind: "transition", next: { ...swap, state: "expired" }, note: "no user lock before the quote expired" };
  }
  return { kind: "wait", why: "waiting for the user's lock" };
}

/** Counter-lock planned: it exists final on chain, or we (re)send it. Resending is safe: the lock id is deterministic and a duplicate is refused by the ledger. */
export function decideLocking(swap: SwapIn<"relayer_locking">, counter: VerifiedLock | null): Step {
  if (counter === null) return { kind: "send", action: "counter-lock" };
  return { kind: "transition", next: { ...swap, state: "relayer_locked" }, note: `counter-lock final at height ${counter.verified.height}` };
}

/** Counter-lock final: follow it until the user claims (we learn the preimage) or it expires. */
export function decideLocked(swap: SwapIn<"relayer_locked">, counter: VerifiedLock | null, destFinalizedTime: number): Step {
  if (counter === null) return { kind: "wait", why: "counter-lock not visible at the finalized height" };
  const lock = counter.lock;
  switch (lock.status) {
    case "claimed":
      return {
        kind: "transition",
        next: { ...swap, state: "relayer_claiming", preimage: lock.preimage, claimTxId: null },
        note: "user claimed the counter-lock; preimage learned",
      };
    case "refunded":
      return { kind: "transition", next: { ...swap, state: "refunded", refundTxId: null }, note: "counter-lock refunded by a third party" };
    case "locked":
      if (destFinalizedTime >= lock.timelock) {
        return { kind: "transition", next: { ...swap, state: "relayer_refunding", refundTxId: null }, note: "counter-lock expired unclaimed" };
      }
      return { kind: "wait", why: "waiting for the user to claim" };
  }
}

/**
 * Preimage known: claim the user's lock until the claim is final. Only the lock's proven
 * state can end this — never a head time, which the ledger enforces itself: a claim past
 * the timelock is refused, and the swap fails only once the lock is proven refunded.
 */
export function decideClaiming(swap: SwapIn<"relayer_claiming">, userLock: VerifiedLock | null): Step {
  if (userLock === null) return { kind: "wait", why: "user lock not visible at the finalized height" };
  const lock = userLock.lock;
  switch (lock.status) {
    case "claimed":
      return { kind: "transition", next: { ...swap, state: "completed" }, note: "relayer claim final" };
    case "refunded":
      return {
        kind: "transition",
        next: { ...swap, state: "failed", detail: "the user refunded the source lock before the relayer's claim" },
        note: "source lock refunded before claim",
      };
    case "locked":
      return { kind: "send", action: "claim" };
  }
}

/** Counter-lock expired: refund it, unless the user's claim won the race (then claim the source). */
export function decideRefunding(swap: SwapIn<"relayer_refunding">, counter: VerifiedLock | null): Step {
  if (counter === null) return { kind: "wait", why: "counter-lock not visible at the finalized height" };
  const lock = counter.lock;
  switch (lock.status) {
    case "refunded":
      return { kind: "transition", next: { ...swap, state: "refunded" }, note: "counter-lock refund final" };
    case "claimed": {
      const { refundTxId: _unused, ...rest } = swap;
      return {
        kind: "transition",
        next: { ...rest, state: "relayer_claiming", preimage: lock.preimage, claimTxId: null },
        note: "user claimed before the refund landed",
      };
    }
    case "locked":
      return { kind: "send", action: "refund" };
  }
}
