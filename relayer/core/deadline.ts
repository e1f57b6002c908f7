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

/** The ledger a swap's next step acts on (where its send, if any, goes). */
export function actingChain(swap: Swap): string {
  switch (swap.state) {
    case "relayer_locking":
    case "relayer_locked":
    case "relayer_refunding":
      return swap.to.chain;
    default:
      return swap.from.chain;
  }
}

/** Lowest priority: swaps that hold no deadline. */
export const NO_DEADLINE_PRIORITY = -1e12;

/**
 * Queue priority of a swap's next step (p-queue: higher runs first): minus the seconds of
 * chain time left before its deadline, so the claim whose source lock expires soonest goes
 * first. Without a known head for the deadline's chain, the deadline counts as due now.
 */
export function stepPriority(swap: Swap, chainTime: (chain: string) => number | undefined): number {
  const d = deadlineOf(swap);
  if (!d) return NO_DEADLINE_PRIORITY;
  const now = chainTime(d.chain);
  const left = now === undefined ? 0 : d.time - now;
  return Math.max(NO_DEADLINE_PRIORITY + 1, 0 - left);
}
