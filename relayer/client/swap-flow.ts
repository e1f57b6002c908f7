import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { InvalidInputError, IsthmusError } from "../../chains/errors.ts";
import type { Hex, LedgerAdapter, VerifiedLock } from "../../chains/ledger.ts";
import { RelayerUnreachableError, type RelayerClient } from "../api/client.ts";

/** The relayer did something the user must not accept: the secret stays unrevealed. */
export class CounterLockMismatchError extends IsthmusError {
  override name = "CounterLockMismatchError";
  constructor(field: string, expected: string, actual: string, details: Record<string, unknown> = {}) {
    super("COUNTER_LOCK_MISMATCH", `the relayer's counter-lock has ${field} ${actual}, expected ${expected}; secret not revealed`, {
      field,
      expected,
      actual,
      ...details,
    });
  }
}

export class SwapAbortedError extends IsthmusError {
  override name = "SwapAbortedError";
  constructor(message: string, details: Record<string, unknown>) {
    super("SWAP_ABORTED", message, details);
  }
}

interface QuoteAnswer {
  amountIn: string;
  amountOut: string;
  amountInText: string;
  amountOutText: string;
  relayerFrom: Hex;
  minUserLockSec: number;
}

interface SwapAnswer {
  id: string;
  state: string;
  reason?: string;
  detail?: string;
  counterLock?: { lockId: Hex; txId: Hex | null; timelock: number };
  claimTxId?: Hex | null;
}

export interface SwapFlowParams {
  readonly relayer: RelayerClient;
  readonly source: LedgerAdapter;
  readonly dest: LedgerAdapter;
  readonly fromAsset: string;
  readonly toAsset: string;
  readonly amount: string;
  /** Seconds from the source chain's now; default: twice the relayer's minimum, at least 10 minutes. */
  readonly timelockSec?: number;
  /** Where the secret is saved before anything is locked (so a crash can still claim or refund). */
  readonly secretDir: string;
  /** Give up waiting for a step after this long (ms). The user's lock stays refundable after its timelock. */
  readonly stepTimeoutMs?: number;
  /** Wait for the relayer's own claim before returning. */
  readonly waitRelayerClaim?: boolean;
  readonly pollMs?: number;
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
  userClaim: { chain: string; txId: Hex };
  relayerClaim: { chain: string; txId: Hex | null } | null;
  seconds: { userLockFinal: number; relayerLockFinal: number; userClaim: number; relayerClaim: number | null; total: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** While waiting, a relayer that restarts is not a failure: keep the last answer and poll again. */
async function pollSwap(relayer: RelayerClient, id: string, last: SwapAnswer): Promise<SwapAnswer> {
  try {
    return await relayer.get<SwapAnswer>(`/swaps/${id}`);
  } catch (err) {
    if (err instanceof RelayerUnreachableError) return last;
    throw err;
  }
}

/**
 * The dApp side of a swap: make a secret, lock to the relayer, wait for its counter-lock,
 * check that lock on the destination ledger itself (never the relayer's word), claim.
 */
export async function runSwap(p: SwapFlowParams): Promise<SwapFlowResult> {
  const t0 = performance.now();
  const secs = (t: number) => Math.round((performance.now() - t) / 10) / 100;
  const stepTimeoutMs = p.stepTimeoutMs ?? 120_000;
  const pollMs = p.pollMs ?? 250;
  const from = `${p.source.name}:${p.fromAsset}`;
  const to = `${p.dest.name}:${p.toAsset}`;

  const quote = await p.relayer.get<QuoteAnswer>(`/quote?${new URLSearchParams({ from, to, amount: p.amount })}`);
  const timelockSec = p.timelockSec ?? Math.max(600, 2 * quote.minUserLockSec);
  if (timelockSec < quote.minUserLockSec) {
    throw new InvalidInputError("timelock", `${timelockSec}s is shorter than the relayer's minimum ${quote.minUserLockSec}s for ${from} -> ${to}`);
  }
  const amountIn = BigInt(quote.amountIn);
  const amountOut = BigInt(quote.amountOut);
  const have = await p.source.balance(p.fromAsset);
  if (have < amountIn) {
    throw new InvalidInputError("amount", `${p.source.address} holds ${have} base units of ${from}, the swap needs ${amountIn}`);
  }

  const secret = `0x${randomBytes(32).toString("hex")}` as Hex;
  const hashlock = `0x${createHash("sha256").update(Buffer.from(secret.slice(2), "hex")).digest("hex")}` as Hex;
  const swap = await p.relayer.post<SwapAnswer>("/swaps", {
    from,
    to,
    amount: p.amount,
    hashlock,
    userFrom: p.source.address,
    userTo: p.dest.address,
  });
  const secretFile = join(p.secretDir, `${swap.id}.json`);
  saveSecret(secretFile, { swapId: swap.id, from, to, hashlock, secret });

  const head = await p.source.head();
  const timelock = head.finalizedTime + timelockSec;
  const userLock = await p.source.lock({ receiver: quote.relayerFrom, asset: p.fromAsset, amount: amountIn, hashlock, timelock });
  saveSecret(secretFile, { swapId: swap.id, from, to, hashlock, secret, userLock: { chain: p.source.name, lockId: userLock.lockId, timelock } });
  p.onLocked?.({ swapId: swap.id, chain: p.source.name, lockId: userLock.lockId, timelock, secretFile });
  await p.source.waitFinal(userLock.height, stepTimeoutMs);
  const userLockFinal = secs(t0);
  const refundHint = `refund after chain time ${timelock} with: npx isthmus refund --chain ${p.source.name} --lock ${userLock.lockId}`;

  // Wait for the relayer to name its counter-lock, then read that lock from the ledger.
  const tWait = performance.now();
  let counter: VerifiedLock | null = null;
  let answer: SwapAnswer = swap;
  while (counter === null) {
    if (performance.now() - tWait > stepTimeoutMs) {
      throw new SwapAbortedError(`no counter-lock within ${stepTimeoutMs / 1000}s; ${refundHint}`, {
        swapId: swap.id,
        lockId: userLock.lockId,
        timelock,
      });
    }
    answer = await pollSwap(p.relayer, swap.id, answer);
    if (answer.state === "rejected" || answer.state === "expired") {
      throw new SwapAbortedError(`relayer ${answer.state} the swap: ${[answer.reason, answer.detail].filter(Boolean).join(" ")}; ${refundHint}`, {
        swapId: swap.id,
        chain: p.source.name,
        lockId: userLock.lockId,
        timelock,
        refund: `npx isthmus refund --chain ${p.source.name} --lock ${userLock.lockId}`,
      });
    }
    if (answer.counterLock) counter = await p.dest.getLock(answer.counterLock.lockId);
    if (counter === null) await sleep(pollMs);
  }
  const relayerLockFinal = secs(t0);

  checkCounterLock(counter, { receiver: p.dest.address, asset: p.toAsset, amount: amountOut, hashlock });
  const destHead = await p.dest.head();
  const window = counter.lock.timelock - (destHead.finalizedTime + p.dest.timing.finalitySec);
  const needed = 2 * p.dest.timing.finalitySec + 2 * p.dest.timing.blockTimeSec + p.dest.timing.clockSkewSec;
  if (window < needed) {
    throw new CounterLockMismatchError("time left", `>= ${needed}s`, `${window}s`, { swapId: swap.id });
  }
  if (counter.lock.timelock >= timelock) {
    // The relayer's lock must expire before ours, or it could refund after learning the secret.
    throw new CounterLockMismatchError("timelock", `< ${timelock} (ours)`, String(counter.lock.timelock), { swapId: swap.id });
  }

  const claim = await p.dest.claim(counter.lock.lockId, secret);
  await p.dest.waitFinal(claim.height, stepTimeoutMs);
  const userClaim = secs(t0);

  let relayerClaim: SwapFlowResult["relayerClaim"] = null;
  let relayerClaimSec: number | null = null;
  if (p.waitRelayerClaim ?? true) {
    const tClaim = performance.now();
    while (answer.state !== "completed") {
      if (performance.now() - tClaim > stepTimeoutMs) break;
      await sleep(pollMs);
      answer = await pollSwap(p.relayer, swap.id, answer);
    }
    if (answer.state === "completed") {
      relayerClaim = { chain: p.source.name, txId: answer.claimTxId ?? null };
      relayerClaimSec = secs(t0);
    }
  }

  return {
    swapId: swap.id,
    from,
    to,
    amountIn: quote.amountInText,
    amountOut: quote.amountOutText,
    userLock: { chain: p.source.name, lockId: userLock.lockId, txId: userLock.txId, timelock },
    relayerLock: { chain: p.dest.name, lockId: counter.lock.lockId, txId: answer.counterLock?.txId ?? null, timelock: counter.lock.timelock },
    userClaim: { chain: p.dest.name, txId: claim.txId },
    relayerClaim,
    seconds: {
      userLockFinal,
      relayerLockFinal: Math.round((relayerLockFinal - userLockFinal) * 100) / 100,
      userClaim: Math.round((userClaim - relayerLockFinal) * 100) / 100,
      relayerClaim: relayerClaimSec === null ? null : Math.round((relayerClaimSec - userClaim) * 100) / 100,
      total: secs(t0),
    },
  };
}

/** Everything the user relies on before revealing the secret. */
export function checkCounterLock(counter: VerifiedLock, want: { receiver: Hex; asset: string; amount: bigint; hashlock: Hex }): void {
  const l = counter.lock;
  if (l.status !== "locked") throw new CounterLockMismatchError("status", "locked", l.status);
  if (l.receiver !== want.receiver) throw new CounterLockMismatchError("receiver", want.receiver, l.receiver);
  if (l.asset !== want.asset) throw new CounterLockMismatchError("asset", want.asset, l.asset);
  if (l.amount < want.amount) throw new CounterLockMismatchError("amount", `>= ${want.amount}`, String(l.amount));
  if (l.hashlock !== want.hashlock) throw new CounterLockMismatchError("hashlock", want.hashlock, l.hashlock);
}

/** Write-then-rename so a crash never leaves a half-written secret file. */
function saveSecret(file: string, record: Record<string, unknown>): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(record, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, file);
}
