/**
 * One swap end to end with per-phase timings: what the CLI's `isthmus swap`, the
 * integration tests and the swap bench run. Built on the SDK's steps with a file store.
 */
import type { Hex, LedgerAdapter } from "../chains/ledger.ts";
import { FileSwapStore } from "./file-store.ts";
import type { RelayerClient } from "./relayer-client.ts";
import { claim, createSwap, lock, watch, type SwapClient } from "./swap.ts";

export interface SwapFlowParams {
  readonly relayer: RelayerClient;
  readonly source: LedgerAdapter;
  readonly dest: LedgerAdapter;
  readonly fromAsset: string;
  readonly toAsset: string;
  readonly amount: string;
  /** Seconds of source chain time; default twice the relayer's minimum, at least 10 minutes. */
  readonly timelockSec?: number;
  /** The file store's directory: each swap's record (preimage included) is saved there before anything is locked. */
  readonly secretDir: string;
  /** Give up waiting for a step after this long (ms). The user's lock stays refundable after its timelock. */
  readonly stepTimeoutMs?: number;
  /** Wait for the relayer's own claim before returning. */
  readonly waitRelayerClaim?: boolean;
  readonly pollMs?: number;
  /**
   * Called once the swap is registered, before anything is locked: its record file, which
   * holds the preimage and, from just before the lock is sent, the lock's id ("locking").
   */
  readonly onCreated?: (info: { swapId: string; secretFile: string }) => void;
  /** Called once the user's lock is sent: where to find it if the process is interrupted. */
  readonly onLocked?: (info: { swapId: string; chain: string; lockId: Hex; timelock: number; secretFile: string }) => void;
}

export interface SwapFlowResult {
  swapId: string;
  from: string;
  to: string;
  amountIn: string;
  amountOut: string;
  userLock: { chain: string; lockId: Hex; txId: Hex; timelock: number };
  relayerLock: { chain: string; lockId: Hex; txId: Hex | null; timelock: number };
  userClaim: { chain: string; txId: Hex | null };
  relayerClaim: { chain: string; txId: Hex | null } | null;
  seconds: { userLockFinal: number; relayerLockFinal: number; userClaim: number; relayerClaim: number | null; total: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round2 = (x: number) => Math.round(x * 100) / 100;

export async function runSwap(p: SwapFlowParams): Promise<SwapFlowResult> {
  const t0 = performance.now();
  const secs = () => round2((performance.now() - t0) / 1000);
  const stepTimeoutMs = p.stepTimeoutMs ?? 120_000;
  const store = new FileSwapStore(p.secretDir);
  const client: SwapClient = { relayer: p.relayer, ledgers: new Map([[p.source.name, p.source], [p.dest.name, p.dest]]), store, pollMs: p.pollMs ?? 250 };
  const from = `${p.source.name}:${p.fromAsset}`;
  const to = `${p.dest.name}:${p.toAsset}`;

  const created = await createSwap(client, { from, to, amount: p.amount, ...(p.timelockSec !== undefined ? { timelockSec: p.timelockSec } : {}) });
  p.onCreated?.({ swapId: created.swapId, secretFile: `${store.dir}/${created.swapId}.json` });
  const userLock = await lock(client, created.swapId, { timeoutMs: stepTimeoutMs });
  p.onLocked?.({ swapId: created.swapId, chain: userLock.chain, lockId: userLock.lockId, timelock: userLock.timelock, secretFile: `${store.dir}/${created.swapId}.json` });
  const userLockFinal = secs();
  const counter = await watch(client, created.swapId, { timeoutMs: stepTimeoutMs });
  const relayerLockFinal = secs();
  const claimed = await claim(client, created.swapId, counter.lockId, { timeoutMs: stepTimeoutMs });
  const userClaim = secs();

  let relayerClaim: SwapFlowResult["relayerClaim"] = null;
  let relayerClaimSec: number | null = null;
  if (p.waitRelayerClaim ?? true) {
    const start = performance.now();
    while (performance.now() - start < stepTimeoutMs) {
      const s = await p.relayer.get<{ state: string; claimTxId?: Hex | null }>(`/swaps/${created.swapId}`).catch(() => null);
      if (s?.state === "completed") {
        relayerClaim = { chain: p.source.name, txId: s.claimTxId ?? null };
        relayerClaimSec = secs();
        break;
      }
      await sleep(client.pollMs);
    }
  }
  const decimalsIn = p.source.asset(p.fromAsset).decimals;
  const decimalsOut = p.dest.asset(p.toAsset).decimals;
  return {
    swapId: created.swapId,
    from,
    to,
    amountIn: formatUnits(BigInt(created.amountIn), decimalsIn),
    amountOut: formatUnits(BigInt(created.amountOut), decimalsOut),
    userLock,
    relayerLock: { chain: counter.chain, lockId: counter.lockId, txId: counter.txId, timelock: counter.timelock },
    userClaim: { chain: claimed.chain, txId: claimed.txId },
    relayerClaim,
    seconds: {
      userLockFinal,
      relayerLockFinal: round2(relayerLockFinal - userLockFinal),
      userClaim: round2(userClaim - relayerLockFinal),
      relayerClaim: relayerClaimSec === null ? null : round2(relayerClaimSec - userClaim),
      total: secs(),
    },
  };
}

/** Base units to a decimal string without trailing zeros ("25.5"). */
export function formatUnits(amount: bigint, decimals: number): string {
  const neg = amount < 0n;
  const s = (neg ? -amount : amount).toString().padStart(decimals + 1, "0");
  const whole = s.slice(0, s.length - decimals);
  const frac = decimals > 0 ? s.slice(s.length - decimals).replace(/0+$/, "") : "";
  return `${neg ? "-" : ""}${whole}${frac ? `.${frac}` : ""}`;
}
