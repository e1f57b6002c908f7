import type { Hex } from "../../chains/ledger.ts";
import type { AssetRef } from "./route.ts";

/**
 * A swap's life, as stored. The relayer is the liquidity provider: the user locks on
 * `from`, the relayer counter-locks on `to`, the user claims on `to` (revealing the
 * preimage), the relayer claims on `from` with it.
 */
export const SwapStates = [
  "awaiting_user_lock", // created by the user's request; nothing on chain yet
  "relayer_locking", // user's lock verified final; counter-lock planned and saved before sending
  "relayer_locked", // counter-lock final on `to`
  "relayer_claiming", // user claimed on `to`; preimage saved before claiming on `from`
  "relayer_refunding", // counter-lock expired unclaimed; refund saved before sending
  "completed", // relayer's claim on `from` final
  "refunded", // relayer's counter-lock refunded; the user refunds their own lock
  "rejected", // user's lock unacceptable (or never counter-locked); relayer moved nothing
  "expired", // no user lock arrived in time; nothing moved
  "failed", // the user's lock was proven refunded before the relayer's claim: needs an operator
] as const;
export type SwapState = (typeof SwapStates)[number];

export const FinalStates: ReadonlySet<SwapState> = new Set(["completed", "refunded", "rejected", "expired", "failed"]);
export const SuccessStates: ReadonlySet<SwapState> = new Set(["completed"]);

/** The only moves a swap may make. Anything else is a bug and throws. */
export const Transitions: Readonly<Record<SwapState, readonly SwapState[]>> = {
  awaiting_user_lock: ["relayer_locking", "rejected", "expired"],
  relayer_locking: ["relayer_locked", "rejected"],
  relayer_locked: ["relayer_claiming", "relayer_refunding", "refunded"],
  relayer_claiming: ["completed", "failed"],
  relayer_refunding: ["refunded", "relayer_claiming"],
  completed: [],
  refunded: [],
  rejected: [],
  expired: [],
  failed: [],
};

export function canTransition(from: SwapState, to: SwapState): boolean {
  return Transitions[from].includes(to);
}

/** A lock we observed final on a ledger. */
export interface LockRef {
  readonly chain: string;
  readonly lockId: Hex;
  readonly txId: Hex | null;
  readonly amount: bigint;
  readonly timelock: number;
}

/** A counter-lock decided and saved before it is sent; txId is filled once a send returns. */
export interface PlannedLock {
  readonly chain: string;
  readonly lockId: Hex;
  readonly receiver: Hex;
  readonly asset: string;
  readonly amount: bigint;
  readonly timelock: number;
  readonly txId: Hex | null;
}

export type RejectReason =
  | "TIMELOCK_TOO_SHORT"
  | "CLOCK_SKEW"
  | "AMOUNT_MISMATCH"
  | "ASSET_MISMATCH"
  | "LOCK_NOT_OPEN"
  | "COUNTER_LOCK_IMPOSSIBLE";

export interface SwapTerms {
  readonly id: string;
  readonly from: AssetRef;
  readonly to: AssetRef;
  /** Base units the user locks on `from`. */
  readonly amountIn: bigint;
  /** Base units the relayer locks on `to`. */
  readonly amountOut: bigint;
  readonly hashlock: Hex;
  /** The user's account on `from` (sender of the user lock, where a refund goes). */
  readonly userFrom: Hex;
  /** The user's account on `to` (receiver of the counter-lock). */
  readonly userTo: Hex;
  /** The relayer's account on `from` that the user must lock to. */
  readonly relayerFrom: Hex;
  /** Source chain time after which a swap with no user lock expires. */
  readonly quoteExpiresAt: number;
  /** Wall-clock ms, for records only; no decision reads it. */
  readonly createdAtMs: number;
  /**
   * The source chain's finalized height when the swap was registered: reconciliation re-reads
   * the source's events from here while the swap awaits the user's lock, so a lock event the
   * watcher missed (a node answering a range incompletely) cannot strand it. Absent on swaps
   * stored by versions before it (then the rescan overlap window is all there is).
   */
  readonly sourceHeightAtCreate?: number;
}

export type Swap = SwapTerms &
  (
    | { readonly state: "awaiting_user_lock" }
    | { readonly state: "relayer_locking"; readonly userLock: LockRef; readonly counterLock: PlannedLock }
    | { readonly state: "relayer_locked"; readonly userLock: LockRef; readonly counterLock: PlannedLock }
    | { readonly state: "relayer_claiming"; readonly userLock: LockRef; readonly counterLock: PlannedLock; readonly preimage: Hex; readonly claimTxId: Hex | null }
    | { readonly state: "relayer_refunding"; readonly userLock: LockRef; readonly counterLock: PlannedLock; readonly refundTxId: Hex | null }
    | { readonly state: "completed"; readonly userLock: LockRef; readonly counterLock: PlannedLock; readonly preimage: Hex; readonly claimTxId: Hex | null }
    | { readonly state: "refunded"; readonly userLock: LockRef; readonly counterLock: PlannedLock; readonly refundTxId: Hex | null }
    | { readonly state: "rejected"; readonly reason: RejectReason; readonly detail: string; readonly userLock: LockRef | null }
    | { readonly state: "expired" }
    | { readonly state: "failed"; readonly userLock: LockRef; readonly counterLock: PlannedLock; readonly preimage: Hex; readonly detail: string }
  );

export type SwapIn<S extends SwapState> = Extract<Swap, { state: S }>;

export function isFinal(swap: Swap): boolean {
  return FinalStates.has(swap.state);
}
