/**
 * Typed errors of the SDK: each carries what a dApp needs to act (which swap, which lock,
 * which chain time to wait for). None of them ever carries the preimage.
 */
import { IsthmusError } from "../chains/errors.ts";
import type { Hex } from "../chains/ledger.ts";

export { IsthmusError, InvalidInputError, LedgerError, VerificationError } from "../chains/errors.ts";

/** A field of the relayer's counter-lock that the SDK checks before revealing the preimage. */
export type CounterLockField = "status" | "receiver" | "asset" | "amount" | "hashlock";

/** The relayer's counter-lock is not the one promised: the preimage stays secret; refund after `userTimelock`. */
export class CounterLockMismatchError extends IsthmusError {
  override name = "CounterLockMismatchError";
  constructor(
    readonly swapId: string,
    readonly field: CounterLockField,
    readonly expected: string,
    readonly actual: string,
    readonly counterLockId: Hex,
    readonly userTimelock: number,
  ) {
    super("COUNTER_LOCK_MISMATCH", `swap ${swapId}: the relayer's counter-lock has ${field} ${actual}, expected ${expected}; preimage not revealed, refund after chain time ${userTimelock}`, {
      swapId,
      field,
      expected,
      actual,
      counterLockId,
      userTimelock,
    });
  }
}

/**
 * The counter-lock's timelock leaves too little time: either for the user to claim it
 * ("claim-window") or between it and the user's own lock ("timelock-gap").
 */
export class InsufficientMarginError extends IsthmusError {
  override name = "InsufficientMarginError";
  constructor(
    readonly swapId: string,
    readonly which: "claim-window" | "timelock-gap",
    readonly requiredSec: number,
    readonly actualSec: number,
    readonly counterLockId: Hex,
    readonly userTimelock: number,
  ) {
    super("INSUFFICIENT_MARGIN", `swap ${swapId}: the counter-lock leaves a ${which} of ${actualSec}s, at least ${requiredSec}s is required; preimage not revealed, refund after chain time ${userTimelock}`, {
      swapId,
      which,
      requiredSec,
      actualSec,
      counterLockId,
      userTimelock,
    });
  }
}

/** A lock's timelock has passed on its ledger: it can no longer be claimed (refund it instead, if it is yours). */
export class ExpiredError extends IsthmusError {
  override name = "ExpiredError";
  constructor(readonly swapId: string, readonly chain: string, readonly lockId: Hex, readonly timelock: number, readonly chainTime: number) {
    super("EXPIRED", `swap ${swapId}: lock ${lockId} on ${chain} expired at chain time ${timelock} (now ${chainTime})`, { swapId, chain, lockId, timelock, chainTime });
  }
}

/** The user's lock cannot be refunded before its timelock. */
export class NotRefundableYetError extends IsthmusError {
  override name = "NotRefundableYetError";
  constructor(readonly swapId: string, readonly chain: string, readonly lockId: Hex, readonly timelock: number, readonly chainTime: number) {
    super("NOT_REFUNDABLE_YET", `swap ${swapId}: lock ${lockId} on ${chain} is refundable from chain time ${timelock} (now ${chainTime}, ${timelock - chainTime}s to go)`, {
      swapId,
      chain,
      lockId,
      timelock,
      chainTime,
    });
  }
}

/** The relayer did not name a counter-lock in time, or gave the swap up. The user's lock is refundable after `userTimelock`. */
export class RelayerGaveUpError extends IsthmusError {
  override name = "RelayerGaveUpError";
  constructor(
    readonly swapId: string,
    readonly reason: "timeout" | "rejected" | "expired",
    detail: string,
    readonly userLock: { readonly chain: string; readonly lockId: Hex; readonly timelock: number } | null,
  ) {
    super("RELAYER_GAVE_UP", `swap ${swapId}: ${detail}${userLock ? `; refund lock ${userLock.lockId} on ${userLock.chain} after chain time ${userLock.timelock}` : ""}`, {
      swapId,
      reason,
      userLock,
    });
  }
}

/** A swap id the store does not hold, or a step asked of a swap in the wrong phase. */
export class SwapStateError extends IsthmusError {
  override name = "SwapStateError";
  constructor(readonly swapId: string, problem: string, readonly phase: string | null) {
    super("SWAP_STATE", `swap ${swapId}: ${problem}`, { swapId, phase });
  }
}

/** An error answered by the relayer API, with its stable code. */
export class RelayerApiError extends IsthmusError {
  override name = "RelayerApiError";
  constructor(code: string, message: string, readonly status: number, details: Record<string, unknown> = {}) {
    super(code, message, { status, ...details });
  }
}

export class RelayerUnreachableError extends IsthmusError {
  override name = "RelayerUnreachableError";
  constructor(url: string, cause: unknown) {
    super("RELAYER_UNREACHABLE", `the relayer at ${url} does not answer (is the daemon running? try npm start)`, { url }, { cause });
  }
}
