import { errorMessage } from "../../chains/errors.ts";
import type { LedgerAdapter, LedgerHead } from "../../chains/ledger.ts";
import { formatAmount } from "../core/amount.ts";
import { toPlainJson } from "../core/codec.ts";
import type { Swap } from "../core/swap.ts";

/**
 * Read-only views for status pages (the dashboard) and operators: chains as the relayer's
 * watcher last saw them, swaps in flight with every deadline they carry measured in the
 * deadline's own chain time, and the relayer's balances. Pure except `readBalances`.
 */

/** How a ledger decides a block is final, for people reading a status page. */
export type FinalityRule =
  | { readonly kind: "bft-commit"; readonly description: string }
  | { readonly kind: "confirmations"; readonly confirmations: number; readonly description: string }
  | { readonly kind: "ordered"; readonly description: string };

export function finalityRuleOf(ledger: Pick<LedgerAdapter, "kind" | "timing">): FinalityRule {
  switch (ledger.kind) {
    case "consortium":
      return { kind: "bft-commit", description: "commit signed by validators holding more than 2/3 of the stake" };
    case "evm": {
      // The EVM adapter sets finalitySec = confirmations × blockTimeSec.
      const confirmations = Math.round(ledger.timing.finalitySec / ledger.timing.blockTimeSec);
      return { kind: "confirmations", confirmations, description: `${confirmations} confirmation${confirmations === 1 ? "" : "s"}` };
    }
    case "fabric":
      return { kind: "ordered", description: "block cut by the ordering service and committed by the peer" };
  }
}

export interface ChainView {
  readonly name: string;
  readonly kind: LedgerAdapter["kind"];
  readonly relayer: string;
  readonly assets: readonly { readonly symbol: string; readonly decimals: number }[];
  readonly finality: FinalityRule & { readonly finalitySec: number; readonly blockTimeSec: number };
  /** Null until the watcher has read the chain once. */
  readonly headHeight: number | null;
  readonly finalizedHeight: number | null;
  /** Head minus finalized height, in blocks. */
  readonly lagBlocks: number | null;
  /** Block time (unix seconds, the ledger's clock) of the finalized head: "now" for this chain's deadlines. */
  readonly chainTime: number | null;
  /** Last height whose events the relayer handled. */
  readonly scannedHeight: number | null;
  /** Finalized height minus scanned height, in blocks. */
  readonly scanLagBlocks: number | null;
  /** False while the watcher backs off from this ledger; its head is then the last one seen. */
  readonly up: boolean;
  readonly failures: number;
}

export function chainView(ledger: LedgerAdapter, head: LedgerHead | undefined, scanned: number | null, failures: number): ChainView {
  return {
    name: ledger.name,
    kind: ledger.kind,
    relayer: ledger.address,
    assets: ledger.assets().map((a) => ({ symbol: a.symbol, decimals: a.decimals })),
    finality: { ...finalityRuleOf(ledger), finalitySec: ledger.timing.finalitySec, blockTimeSec: ledger.timing.blockTimeSec },
    headHeight: head?.headHeight ?? null,
    finalizedHeight: head?.finalizedHeight ?? null,
    lagBlocks: head ? head.headHeight - head.finalizedHeight : null,
    chainTime: head?.finalizedTime ?? null,
    scannedHeight: scanned,
    scanLagBlocks: head && scanned !== null ? Math.max(0, head.finalizedHeight - scanned) : null,
    up: failures === 0,
    failures,
  };
}

/**
 * A time limit on a swap, in one ledger's block time:
 * - "user-lock": the user must lock on `from` before the quote expires (else the swap expires);
 * - "counter-lock": the relayer's counter-lock on `to` is claimable by the user until then, refundable after;
 * - "relayer-claim": the relayer must claim the user's lock on `from` before it becomes refundable.
 */
export interface DeadlineView {
  readonly what: "user-lock" | "counter-lock" | "relayer-claim";
  readonly chain: string;
  /** Unix seconds of that chain's block time. */
  readonly time: number;
  /** Seconds of that chain's time left, measured from its finalized head as the relayer last saw it; null before the first head. */
  readonly secondsLeft: number | null;
}

export function deadlinesOf(swap: Swap, chainTime: (chain: string) => number | undefined): DeadlineView[] {
  const at = (what: DeadlineView["what"], chain: string, time: number): DeadlineView => {
    const now = chainTime(chain);
    return { what, chain, time, secondsLeft: now === undefined ? null : time - now };
  };
  switch (swap.state) {
    case "awaiting_user_lock":
      return [at("user-lock", swap.from.chain, swap.quoteExpiresAt)];
    case "relayer_locking":
    case "relayer_locked":
    case "relayer_claiming":
    case "relayer_refunding":
      return [at("counter-lock", swap.counterLock.chain, swap.counterLock.timelock), at("relayer-claim", swap.userLock.chain, swap.userLock.timelock)];
    default:
      return [];
  }
}

export interface SwapStatusView {
  readonly id: string;
  readonly createdAtMs: number;
  readonly amountInText: string;
  readonly amountOutText: string;
  readonly deadlines: readonly DeadlineView[];
  readonly [field: string]: unknown;
}

/** A swap for display: the stored swap (amounts in base units as strings), amounts in whole units, and its deadlines. */
export function swapStatusView(swap: Swap, decimals: (chain: string, asset: string) => number, chainTime: (chain: string) => number | undefined): SwapStatusView {
  return {
    ...(toPlainJson(swap) as object),
    id: swap.id,
    createdAtMs: swap.createdAtMs,
    amountInText: formatAmount(swap.amountIn, decimals(swap.from.chain, swap.from.asset)),
    amountOutText: formatAmount(swap.amountOut, decimals(swap.to.chain, swap.to.asset)),
    deadlines: deadlinesOf(swap, chainTime),
  };
}

/** Most urgent first: the least chain time left before any of a swap's deadlines; unknown time last; then oldest first. */
export function byUrgency(a: SwapStatusView, b: SwapStatusView): number {
  const least = (v: SwapStatusView) => Math.min(...v.deadlines.map((d) => d.secondsLeft ?? Infinity));
  const la = least(a);
  const lb = least(b);
  if (la !== lb) return la < lb ? -1 : 1;
  return a.createdAtMs - b.createdAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export type BalanceView =
  | { readonly chain: string; readonly asset: string; readonly ok: true; readonly units: string; readonly amount: string; readonly decimals: number }
  | { readonly chain: string; readonly asset: string; readonly ok: false; readonly error: string };

/** The relayer's own balance of every asset on every ledger; a ledger that does not answer in time gets an error entry per asset. */
export async function readBalances(ledgers: Iterable<LedgerAdapter>, timeoutMs: number): Promise<BalanceView[]> {
  const perChain = await Promise.all(
    [...ledgers].map(async (l): Promise<BalanceView[]> => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${l.name}: no balance answer within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        const values = await Promise.race([Promise.all(l.assets().map(async (a) => [a, await l.balance(a.symbol)] as const)), timeout]);
        return values.map(([a, v]) => ({ chain: l.name, asset: a.symbol, ok: true, units: v.toString(), amount: formatAmount(v, a.decimals), decimals: a.decimals }));
      } catch (err) {
        return l.assets().map((a) => ({ chain: l.name, asset: a.symbol, ok: false, error: errorMessage(err) }));
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return perChain.flat();
}
