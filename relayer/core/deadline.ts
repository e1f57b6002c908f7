import type { Swap } from "./swap.ts";

/** The next ledger time by which the relayer must have acted on a swap, or lose money or the swap. */
export interface Deadline {
  /** The ledger whose block time the deadline is in. */
  readonly chain: string;
  /** Unix seconds of that ledger's block time. */
  readonly time: number;
  /** "counter-lock": the planned counter-lock must be placed before its timelock; "claim": the user's lock must be claimed before its timelock. */
  readonly what: "counter-lock" | "claim";
}

/**
 * Pure: the deadline a swap holds the relayer to. Awaiting swaps hold none (nothing is at
 * stake until the user locks), refunding and final swaps hold none either.
 */
export function deadlineOf(swap: Swap): Deadline | null {
  switch (swap.state) {
    case "relayer_locking":
      return { chain: swap.counterLock.chain, time: swap.counterLock.timelock, what: "counter-lock" };
    case "relayer_locked":
    case "relayer_claiming":
      return { chain: swap.userLock.chain, time: swap.userLock.timelock, what: "claim" };
    default:
      return null;
  }
}
