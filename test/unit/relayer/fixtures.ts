import type { HtlcLock, LedgerTiming, VerifiedLock } from "../../../chains/ledger.ts";
import type { Swap, SwapIn } from "../../../relayer/core/swap.ts";
import type { TimelockPolicy } from "../../../relayer/core/timelock.ts";

export const H = `0x${"ab".repeat(32)}` as const;
export const PREIMAGE = `0x${"cd".repeat(32)}` as const;
export const USER = `0x${"11".repeat(20)}` as const;
export const RELAYER = `0x${"22".repeat(20)}` as const;
export const SOURCE: LedgerTiming = { blockTimeSec: 1, finalitySec: 1, clockSkewSec: 2 };
export const DEST: LedgerTiming = { blockTimeSec: 1, finalitySec: 3, clockSkewSec: 2 };
export const POLICY: TimelockPolicy = { safetyBufferSec: 10, minClaimWindowSec: 60, maxRelayerLockSec: 1800, quoteTtlSec: 900, reactionSec: 3 };

export function awaiting(id = "a".repeat(24), hashlock: `0x${string}` = H): SwapIn<"awaiting_user_lock"> {
  return {
    id,
    state: "awaiting_user_lock",
    from: { chain: "consortium", asset: "KRW" },
    to: { chain: "evm", asset: "KRWT" },
    amountIn: 10000n,
    amountOut: 10000n,
    hashlock,
    userFrom: USER,
    userTo: USER,
    relayerFrom: RELAYER,
    quoteExpiresAt: 2_000,
    createdAtMs: 0,
  };
}

export function userLock(overrides: Partial<HtlcLock> = {}): HtlcLock {
  return {
    chain: "consortium",
    lockId: `0x${"01".repeat(32)}`,
    sender: USER,
    receiver: RELAYER,
    asset: "KRW",
    amount: 10000n,
    hashlock: H,
    timelock: 1_000 + 600,
    status: "locked",
    ...overrides,
  } as HtlcLock;
}

export function verified(lock: HtlcLock, height = 10): VerifiedLock {
  return { lock, verified: { kind: "state-proof", height, stateRoot: `0x${"00".repeat(32)}` } };
}

export function locking(): SwapIn<"relayer_locking"> {
  return {
    ...awaiting(),
    state: "relayer_locking",
    userLock: { chain: "consortium", lockId: `0x${"01".repeat(32)}`, txId: null, amount: 10000n, timelock: 1_600 },
    counterLock: { chain: "evm", lockId: `0x${"02".repeat(32)}`, receiver: USER, asset: "KRWT", amount: 10000n, timelock: 1_577, txId: null },
  };
}

export function counter(status: "locked" | "claimed" | "refunded"): VerifiedLock {
  const base = { chain: "evm", lockId: `0x${"02".repeat(32)}`, sender: RELAYER, receiver: USER, asset: "KRWT", amount: 10000n, hashlock: H, timelock: 1_577 } as const;
  const lock: HtlcLock = status === "claimed" ? { ...base, status, preimage: PREIMAGE } : { ...base, status };
  return verified(lock);
}

export type { Swap };
