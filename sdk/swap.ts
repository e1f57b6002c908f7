/**
 * The dApp's side of a swap, one verb per step: quote, createSwap, lock, watch, claim,
 * refund, recover. Each step reads its swap from the store, checks its phase, acts, and
 * writes the next phase (before acting whenever the act commits funds or reveals the
 * preimage). Browser-safe: no Node APIs here; ledgers and the store come from the caller.
 */
import { InvalidInputError } from "../chains/errors.ts";
import type { Hex, LedgerAdapter, Verification, VerifiedLock } from "../chains/ledger.ts";
import {
  CounterLockMismatchError,
  ExpiredError,
  InsufficientMarginError,
  NotRefundableYetError,
  RelayerApiError,
  RelayerGaveUpError,
  RelayerUnreachableError,
  SwapStateError,
  type CounterLockField,
} from "./errors.ts";
import { checkMargin, claimWindowSec } from "./margin.ts";
import { RelayerClient } from "./relayer-client.ts";
import { generateSecret } from "./secret.ts";
import { FINAL_PHASES, type AssetRef, type CounterLockRef, type SwapRecord, type SwapStore, type SwapTerms } from "./store.ts";

/** What every action works with: the relayer, the dApp's own ledgers (its signers inside), and its store. */
export interface SwapClient {
  readonly relayer: RelayerClient;
  readonly ledgers: ReadonlyMap<string, LedgerAdapter>;
  readonly store: SwapStore;
  readonly pollMs: number;
}

export interface CreateClientParams {
  readonly relayerUrl: string;
  /** The dApp's tenant key for the relayer API (creating swaps needs one). */
  readonly apiKey?: string;
  /** Adapters opened with the dApp's signers (see openEvmLedger, openFabricLedger, openConsortiumLedger). */
  readonly ledgers: readonly LedgerAdapter[];
  readonly store: SwapStore;
  /** How often watch polls the relayer; default 250 ms. */
  readonly pollMs?: number;
  /** Deadline of each relayer API call; default 10 s. */
  readonly relayerTimeoutMs?: number;
}

export function createClient(p: CreateClientParams): SwapClient {
  const ledgers = new Map<string, LedgerAdapter>();
  for (const l of p.ledgers) {
    if (ledgers.has(l.name)) throw new InvalidInputError("ledgers", `two ledgers are named "${l.name}"`);
    ledgers.set(l.name, l);
  }
  return { relayer: new RelayerClient(p.relayerUrl.replace(/\/+$/, ""), p.relayerTimeoutMs ?? 10_000, p.apiKey), ledgers, store: p.store, pollMs: p.pollMs ?? 250 };
}

function ledgerOf(client: SwapClient, chain: string): LedgerAdapter {
  const l = client.ledgers.get(chain);
  if (!l) throw new InvalidInputError("chain", `no ledger "${chain}" was given to the client (has ${[...client.ledgers.keys()].join(", ")})`);
  return l;
}

function parseRef(text: string, what: string): AssetRef {
  const m = /^([A-Za-z0-9_-]+):([A-Za-z0-9]+)$/.exec(text);
  if (!m) throw new InvalidInputError(what, `"${text}" is not of the form <chain>:<ASSET>`);
  return { chain: m[1]!, asset: m[2]! };
}

const refText = (r: AssetRef) => `${r.chain}:${r.asset}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- quote

export interface QuoteParams {
  /** "<chain>:<ASSET>", e.g. "consortium:KRW". */
  readonly from: string;
  readonly to: string;
  /** Decimal amount of `from` in whole units, e.g. "25.5". */
  readonly amount: string;
}

export interface Quote {
  readonly from: AssetRef;
  readonly to: AssetRef;
  readonly amountIn: bigint;
  readonly amountOut: bigint;
  readonly amountInText: string;
  readonly amountOutText: string;
  readonly rate: string;
  /** The relayer's account on the source ledger (the user's lock pays it). */
  readonly relayerFrom: Hex;
  /** The shortest user timelock (seconds of source chain time) the relayer accepts on this route. */
  readonly minUserLockSec: number;
  /** The gap the relayer keeps between the user's timelock and its own. */
  readonly marginSec: number;
}

interface QuoteAnswer {
  amountIn: string;
  amountOut: string;
  amountInText: string;
  amountOutText: string;
  rate: string;
  relayerFrom: Hex;
  minUserLockSec: number;
  marginSec: number;
}

/** The relayer's price for a swap. Nothing is reserved. */
export async function quote(client: SwapClient, p: QuoteParams): Promise<Quote> {
  const from = parseRef(p.from, "from");
  const to = parseRef(p.to, "to");
  ledgerOf(client, from.chain);
  ledgerOf(client, to.chain);
  const q = await client.relayer.get<QuoteAnswer>(`/quote?${new URLSearchParams({ from: refText(from), to: refText(to), amount: p.amount })}`);
  return {
    from,
    to,
    amountIn: BigInt(q.amountIn),
    amountOut: BigInt(q.amountOut),
    amountInText: q.amountInText,
    amountOutText: q.amountOutText,
    rate: q.rate,
    relayerFrom: q.relayerFrom.toLowerCase() as Hex,
    minUserLockSec: q.minUserLockSec,
    marginSec: q.marginSec,
  };
}

// ---------------------------------------------------------------- createSwap

export interface CreateSwapParams extends QuoteParams {
  /** Seconds of source chain time the user's lock runs; default max(600, 2 x the relayer's minimum). */
  readonly timelockSec?: number;
}

/** A stored swap as the dApp may show it: everything but the preimage. */
export type SwapView = Omit<SwapRecord, "preimage">;

export function viewOf(record: SwapRecord): SwapView {
  const { preimage: _secret, ...view } = record;
  return view;
}

interface SwapAnswer {
  id: string;
  state: string;
  amountIn?: string;
  amountOut?: string;
  reason?: string;
  detail?: string;
  counterLock?: { lockId: Hex; txId: Hex | null; timelock: number };
  claimTxId?: Hex | null;
}

/**
 * Quote, make a fresh preimage (CSPRNG), register the swap with the relayer by its
 * hashlock only, and store the record (preimage included) before anything is locked.
 */
export async function createSwap(client: SwapClient, p: CreateSwapParams): Promise<SwapView> {
  const q = await quote(client, p);
  const timelockSec = p.timelockSec ?? Math.max(600, 2 * q.minUserLockSec);
  if (!Number.isInteger(timelockSec) || timelockSec < q.minUserLockSec) {
    throw new InvalidInputError("timelockSec", `${timelockSec}s is shorter than the relayer's minimum ${q.minUserLockSec}s for ${refText(q.from)} -> ${refText(q.to)}`);
  }
  const source = ledgerOf(client, q.from.chain);
  const dest = ledgerOf(client, q.to.chain);
  const have = await source.balance(q.from.asset);
  if (have < q.amountIn) throw new InvalidInputError("amount", `${source.address} holds ${have} base units of ${refText(q.from)}, the swap needs ${q.amountIn}`);

  const { preimage, hashlock } = generateSecret();
  const answer = await client.relayer.post<SwapAnswer>("/swaps", {
    from: refText(q.from),
    to: refText(q.to),
    amount: p.amount,
    hashlock,
    userFrom: source.address,
    userTo: dest.address,
  });
  // The relayer re-quotes when it registers; the dApp locks only for the terms it was shown.
  if ((answer.amountIn !== undefined && BigInt(answer.amountIn) !== q.amountIn) || (answer.amountOut !== undefined && BigInt(answer.amountOut) !== q.amountOut)) {
    throw new InvalidInputError("amount", `the relayer registered ${answer.amountIn} -> ${answer.amountOut} base units, not the quoted ${q.amountIn} -> ${q.amountOut}; nothing was locked`);
  }
  // The id comes from the relayer: one already in the store would overwrite that swap's record,
  // preimage and lock reference included.
  const clash = await client.store.get(answer.id);
  if (clash) throw new SwapStateError(answer.id, `the relayer registered the new swap under id ${answer.id}, which this store already holds; nothing was locked`, clash.phase);
  const record: SwapRecord = {
    phase: "created",
    swapId: answer.id,
    relayerUrl: client.relayer.baseUrl,
    from: q.from,
    to: q.to,
    amountIn: q.amountIn.toString(),
    amountOut: q.amountOut.toString(),
    relayerFrom: q.relayerFrom,
    userFrom: source.address,
    userTo: dest.address,
    hashlock,
    preimage,
    timelockSec,
    quotedMarginSec: q.marginSec,
  };
  await client.store.put(record);
  return viewOf(record);
}

async function load(client: SwapClient, swapId: string): Promise<SwapRecord> {
  const r = await client.store.get(swapId);
  if (!r) throw new SwapStateError(swapId, "not in this store", null);
  return r;
}

function requirePhase<P extends SwapRecord["phase"]>(r: SwapRecord, step: string, ...phases: P[]): asserts r is Extract<SwapRecord, { phase: P }> {
  if (!(phases as string[]).includes(r.phase)) throw new SwapStateError(r.swapId, `cannot ${step} in phase "${r.phase}" (needs ${phases.join(" or ")})`, r.phase);
}

// ---------------------------------------------------------------- lock

export interface LockOutcome {
  readonly chain: string;
  readonly lockId: Hex;
  readonly txId: Hex;
  readonly timelock: number;
}

/** Lock the user's funds to the relayer on the source ledger and wait until the lock is final. */
export async function lock(client: SwapClient, swapId: string, opts: { readonly timeoutMs?: number } = {}): Promise<LockOutcome> {
  const r = await load(client, swapId);
  requirePhase(r, "lock", "created");
  const source = ledgerOf(client, r.from.chain);
  const head = await source.head();
  const params = { receiver: r.relayerFrom, asset: r.from.asset, amount: BigInt(r.amountIn), hashlock: r.hashlock, timelock: head.finalizedTime + r.timelockSec };
  const userLock = { chain: source.name, lockId: source.lockIdFor(params), timelock: params.timelock };
  // Write-ahead: a crash after sending still finds the lock by its id.
  await client.store.put({ ...r, phase: "locking", userLock });
  const sent = await source.lock(params);
  await client.store.put({ ...r, phase: "locked", userLock: { ...userLock, lockId: sent.lockId }, lockTxId: sent.txId });
  await source.waitFinal(sent.height, opts.timeoutMs ?? 120_000);
  return { chain: source.name, lockId: sent.lockId, txId: sent.txId, timelock: params.timelock };
}

// ---------------------------------------------------------------- watch

export interface VerifiedCounterLock {
  readonly chain: string;
  readonly lockId: Hex;
  readonly txId: Hex | null;
  readonly timelock: number;
  readonly amount: bigint;
  /** How the destination adapter established the lock (state proof against a finalized header, or a finalized read). */
  readonly verification: Verification;
  /** Seconds left to claim, and between the two timelocks, when checked. */
  readonly claimWindowSec: number;
  readonly gapSec: number;
}

/**
 * Check the counter-lock read from the destination ledger against the swap's terms and the
 * SDK's margin rule (sdk/margin.ts). Throws CounterLockMismatchError, InsufficientMarginError
 * or ExpiredError; the relayer's word is never used.
 */
async function verifyCounterLock(
  client: SwapClient,
  r: Extract<SwapRecord, { userLock: unknown }>,
  found: VerifiedLock,
  opts: { readonly margin: boolean } = { margin: true },
): Promise<{ claimWindowSec: number; gapSec: number }> {
  const l = found.lock;
  const mismatch = (field: CounterLockField, expected: string, actual: string) => new CounterLockMismatchError(r.swapId, field, expected, actual, l.lockId, r.userLock.timelock);
  if (l.status !== "locked") throw mismatch("status", "locked", l.status);
  if (l.receiver !== r.userTo) throw mismatch("receiver", r.userTo, l.receiver);
  if (l.asset !== r.to.asset) throw mismatch("asset", r.to.asset, l.asset);
  if (l.amount < BigInt(r.amountOut)) throw mismatch("amount", `>= ${r.amountOut}`, String(l.amount));
  if (l.hashlock !== r.hashlock) throw mismatch("hashlock", r.hashlock, l.hashlock);
  const source = ledgerOf(client, r.from.chain);
  const dest = ledgerOf(client, r.to.chain);
  const [sourceHead, destHead] = await Promise.all([source.head(), dest.head()]);
  const destNow = destHead.finalizedTime + dest.timing.finalitySec;
  if (destNow >= l.timelock) throw new ExpiredError(r.swapId, dest.name, l.lockId, l.timelock, destNow);
  if (!opts.margin) return { claimWindowSec: l.timelock - destNow, gapSec: r.userLock.timelock - l.timelock };
  const m = checkMargin({
    userTimelock: r.userLock.timelock,
    counterTimelock: l.timelock,
    quotedMarginSec: r.quotedMarginSec,
    source: source.timing,
    dest: dest.timing,
    sourceHead,
    destHead,
  });
  if (!m.ok) throw new InsufficientMarginError(r.swapId, m.which, m.requiredSec, m.actualSec, l.lockId, r.userLock.timelock);
  return m;
}

/** Errors after which the counter-lock must never be claimed: the swap is refused, refund only. */
function isRefusal(err: unknown): err is CounterLockMismatchError | InsufficientMarginError {
  return err instanceof CounterLockMismatchError || err instanceof InsufficientMarginError;
}

async function refuse(client: SwapClient, r: Extract<SwapRecord, { userLock: unknown }>, err: CounterLockMismatchError | InsufficientMarginError): Promise<never> {
  await client.store.put({ ...termsOf(r), phase: "refused", userLock: r.userLock, reason: { code: err.code, message: err.message } });
  throw err;
}

/** The agreed terms of a record, without its phase data: the base of the next record. */
function termsOf(r: SwapRecord): SwapTerms {
  return {
    swapId: r.swapId,
    relayerUrl: r.relayerUrl,
    from: r.from,
    to: r.to,
    amountIn: r.amountIn,
    amountOut: r.amountOut,
    relayerFrom: r.relayerFrom,
    userFrom: r.userFrom,
    userTo: r.userTo,
    hashlock: r.hashlock,
    preimage: r.preimage,
    timelockSec: r.timelockSec,
    quotedMarginSec: r.quotedMarginSec,
  };
}

export interface WatchOptions {
  /** Give up waiting for a counter-lock after this long (ms); default 120 s. The user's lock stays refundable. */
  readonly timeoutMs?: number;
  /** Called with each relayer state seen (for progress display). */
  readonly onState?: (state: string) => void;
}

/**
 * Wait for the relayer to name its counter-lock, read that lock from the destination ledger
 * at its finalized head, and verify it. A counter-lock that fails a check marks the swap
 * "refused" (refund only) and throws the typed error.
 */
export async function watch(client: SwapClient, swapId: string, opts: WatchOptions = {}): Promise<VerifiedCounterLock> {
  const r = await load(client, swapId);
  requirePhase(r, "watch", "locked");
  const dest = ledgerOf(client, r.to.chain);
  // Ask the relayer the swap was created at (a restarted dApp may be configured with another).
  const relayer = r.relayerUrl === client.relayer.baseUrl ? client.relayer : new RelayerClient(r.relayerUrl);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const start = Date.now();
  let lastState = "";
  for (;;) {
    let answer: SwapAnswer | null = null;
    try {
      answer = await relayer.get<SwapAnswer>(`/swaps/${encodeURIComponent(swapId)}`);
    } catch (err) {
      // A relayer that restarts is not a failure: poll again until the deadline.
      if (!(err instanceof RelayerUnreachableError)) throw err;
    }
    if (answer) {
      if (answer.state !== lastState) opts.onState?.((lastState = answer.state));
      if (answer.state === "rejected" || answer.state === "expired") {
        throw new RelayerGaveUpError(swapId, answer.state, `relayer ${answer.state} the swap: ${[answer.reason, answer.detail].filter(Boolean).join(" ")}`, r.userLock);
      }
      if (answer.counterLock) {
        const found = await dest.getLock(answer.counterLock.lockId);
        if (found) {
          try {
            const m = await verifyCounterLock(client, r, found);
            return { chain: dest.name, lockId: found.lock.lockId, txId: answer.counterLock.txId, timelock: found.lock.timelock, amount: found.lock.amount, verification: found.verified, ...m };
          } catch (err) {
            if (isRefusal(err)) return refuse(client, r, err);
            throw err;
          }
        }
      }
    }
    if (Date.now() - start > timeoutMs) {
      throw new RelayerGaveUpError(swapId, "timeout", `no verifiable counter-lock within ${Math.round(timeoutMs / 1000)}s`, r.userLock);
    }
    await sleep(client.pollMs);
  }
}

// ---------------------------------------------------------------- claim

export interface ClaimOutcome {
  readonly chain: string;
  readonly lockId: Hex;
  /** Null when a claim sent before a restart is found already final. */
  readonly txId: Hex | null;
}

/**
 * Reveal the preimage by claiming the counter-lock, after reading and verifying it again at
 * the destination's finalized head (a lock can change between watch and claim).
 */
export async function claim(client: SwapClient, swapId: string, counterLockId: Hex, opts: { readonly timeoutMs?: number } = {}): Promise<ClaimOutcome> {
  const r = await load(client, swapId);
  requirePhase(r, "claim", "locked", "claiming");
  const dest = ledgerOf(client, r.to.chain);
  const found = await dest.getLock(counterLockId);
  if (!found) throw new SwapStateError(swapId, `no final counter-lock ${counterLockId} on ${dest.name}`, r.phase);
  if (found.lock.status === "claimed" && r.phase === "claiming") {
    // A claim sent before a crash went through.
    await client.store.put({ ...termsOf(r), phase: "claimed", userLock: r.userLock, counterLock: r.counterLock, claimTxId: null });
    return { chain: dest.name, lockId: counterLockId, txId: null };
  }
  try {
    // Once "claiming", the preimage may already be public (a claim sent, then dropped): then
    // claiming while the lock is still open is never worse than not, so only the lock's terms
    // and expiry are checked, not the margins that guard the first reveal.
    await verifyCounterLock(client, r, found, { margin: r.phase === "locked" });
  } catch (err) {
    // Once "claiming", the preimage may already be public: keep the phase, never downgrade to refused.
    if (isRefusal(err) && r.phase === "locked") return refuse(client, r, err);
    throw err;
  }
  const counterLock: CounterLockRef = { chain: dest.name, lockId: counterLockId, timelock: found.lock.timelock };
  await client.store.put({ ...termsOf(r), phase: "claiming", userLock: r.userLock, counterLock });
  const sent = await dest.claim(counterLockId, r.preimage);
  await dest.waitFinal(sent.height, opts.timeoutMs ?? 120_000);
  await client.store.put({ ...termsOf(r), phase: "claimed", userLock: r.userLock, counterLock, claimTxId: sent.txId });
  return { chain: dest.name, lockId: counterLockId, txId: sent.txId };
}

// ---------------------------------------------------------------- refund

export type RefundOutcome =
  | { readonly kind: "refunded"; readonly chain: string; readonly lockId: Hex; readonly txId: Hex | null }
  /** The lock was never made (a crash before sending): nothing to refund. */
  | { readonly kind: "never-locked" }
  /** The relayer claimed the user's lock (it had the preimage from the user's claim). */
  | { readonly kind: "claimed-by-relayer"; readonly chain: string; readonly lockId: Hex };

/** Take back the user's lock after its timelock (source chain time). Throws NotRefundableYetError before. */
export async function refund(client: SwapClient, swapId: string, opts: { readonly timeoutMs?: number } = {}): Promise<RefundOutcome> {
  const r = await load(client, swapId);
  requirePhase(r, "refund", "locking", "locked", "refused", "claiming");
  const source = ledgerOf(client, r.from.chain);
  const found = await source.getLock(r.userLock.lockId);
  if (!found) {
    if (r.phase !== "locking") throw new SwapStateError(swapId, `user lock ${r.userLock.lockId} is not on ${source.name}`, r.phase);
    const head = await source.head();
    // An unsent or dropped lock: only once its timelock passed is it certain never to matter.
    if (head.finalizedTime < r.userLock.timelock) throw new NotRefundableYetError(swapId, source.name, r.userLock.lockId, r.userLock.timelock, head.finalizedTime);
    await client.store.put({ ...termsOf(r), phase: "abandoned", reason: "the lock was never made" });
    return { kind: "never-locked" };
  }
  if (found.lock.status === "refunded") {
    await client.store.put({ ...termsOf(r), phase: "refunded", userLock: r.userLock, refundTxId: null });
    return { kind: "refunded", chain: source.name, lockId: r.userLock.lockId, txId: null };
  }
  if (found.lock.status === "claimed") {
    if (r.phase === "claiming") await client.store.put({ ...termsOf(r), phase: "claimed", userLock: r.userLock, counterLock: r.counterLock, claimTxId: null });
    return { kind: "claimed-by-relayer", chain: source.name, lockId: r.userLock.lockId };
  }
  const head = await source.head();
  if (head.finalizedTime < found.lock.timelock) throw new NotRefundableYetError(swapId, source.name, r.userLock.lockId, found.lock.timelock, head.finalizedTime);
  const sent = await source.refund(r.userLock.lockId);
  await source.waitFinal(sent.height, opts.timeoutMs ?? 120_000);
  await client.store.put({ ...termsOf(r), phase: "refunded", userLock: r.userLock, refundTxId: sent.txId });
  return { kind: "refunded", chain: source.name, lockId: r.userLock.lockId, txId: sent.txId };
}

// ---------------------------------------------------------------- recover

export type RecoverOutcome =
  | { readonly swapId: string; readonly kind: "claimed"; readonly claim: ClaimOutcome }
  | { readonly swapId: string; readonly kind: "refunded"; readonly refund: RefundOutcome }
  | { readonly swapId: string; readonly kind: "abandoned"; readonly reason: string }
  /** Nothing to do yet: the user's lock becomes refundable at `refundableAt` (source chain time). */
  | { readonly swapId: string; readonly kind: "waiting"; readonly refundableAt: number; readonly reason: string }
  /** This swap could not be advanced now (a ledger down, say); the others were. Run recover again. */
  | { readonly swapId: string; readonly kind: "failed"; readonly error: { readonly code: string; readonly message: string } };

/**
 * Find and finish every open swap of the store: claim a verified counter-lock, refund an
 * expired user lock, drop a swap that never locked. Safe to run at every start and again
 * later; swaps that must wait report when.
 */
export async function recover(client: SwapClient, opts: WatchOptions = {}): Promise<RecoverOutcome[]> {
  const out: RecoverOutcome[] = [];
  for (const r of await client.store.list()) {
    if (FINAL_PHASES.has(r.phase)) continue;
    try {
      out.push(await recoverOne(client, r, opts));
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      out.push({ swapId: r.swapId, kind: "failed", error: { code: typeof e.code === "string" ? e.code : "ERROR", message: String(e.message ?? err) } });
    }
  }
  return out;
}

async function recoverOne(client: SwapClient, r: SwapRecord, opts: WatchOptions): Promise<RecoverOutcome> {
  const swapId = r.swapId;
  if (r.phase === "created") {
    await client.store.put({ ...termsOf(r), phase: "abandoned", reason: "created but never locked" });
    return { swapId, kind: "abandoned", reason: "created but never locked" };
  }
  // Past the user's timelock, refund (or learn the lock was claimed or never made) comes first.
  const source = ledgerOf(client, r.from.chain);
  if (r.phase === "claimed" || r.phase === "refunded" || r.phase === "abandoned") throw new SwapStateError(swapId, "already final", r.phase);
  const tryRefund = async (reason: string): Promise<RecoverOutcome> => {
    try {
      const res = await refund(client, swapId);
      if (res.kind === "never-locked") return { swapId, kind: "abandoned", reason: "the lock was never made" };
      return { swapId, kind: "refunded", refund: res };
    } catch (err) {
      if (err instanceof NotRefundableYetError) return { swapId, kind: "waiting", refundableAt: err.timelock, reason };
      throw err;
    }
  };
  if (r.phase === "refused") return tryRefund(r.reason.message);

  if (r.phase === "locking") {
    const found = await source.getLock(r.userLock.lockId);
    if (!found) return tryRefund("the lock is not final on the source ledger (it may never have been sent)");
    await client.store.put({ ...termsOf(r), phase: "locked", userLock: r.userLock, lockTxId: null });
  }
  if (r.phase === "claiming") {
    const dest = ledgerOf(client, r.to.chain);
    const counter = await dest.getLock(r.counterLock.lockId);
    const destHead = await dest.head();
    if (counter?.lock.status === "claimed" || (counter?.lock.status === "locked" && destHead.finalizedTime + dest.timing.finalitySec < counter.lock.timelock)) {
      return { swapId, kind: "claimed", claim: await claim(client, swapId, r.counterLock.lockId) };
    }
    return tryRefund("the counter-lock expired before the claim went through");
  }
  // locked: past the timelock only a refund is possible; before it, look for the counter-lock.
  const head = await source.head();
  if (head.finalizedTime >= r.userLock.timelock) return tryRefund("user lock expired");
  try {
    const counter = await watch(client, swapId, opts);
    return { swapId, kind: "claimed", claim: await claim(client, swapId, counter.lockId) };
  } catch (err) {
    // Whatever the relayer did or failed to do, the user's lock is safe until its timelock.
    if (isRefusal(err) || err instanceof RelayerGaveUpError || err instanceof ExpiredError || err instanceof RelayerApiError) {
      return { swapId, kind: "waiting", refundableAt: r.userLock.timelock, reason: (err as Error).message };
    }
    throw err;
  }
}

// ---------------------------------------------------------------- swap (all steps)

export interface SwapParams extends CreateSwapParams {
  /** Per-step deadline (ms): waiting for finality, for the counter-lock. Default 120 s. */
  readonly stepTimeoutMs?: number;
  /** Called once the user's lock is sent, with where to find it if the process stops. */
  readonly onLocked?: (info: { swapId: string; chain: string; lockId: Hex; timelock: number }) => void;
}

export interface SwapResult {
  readonly swap: SwapView;
  readonly userLock: LockOutcome;
  readonly counterLock: VerifiedCounterLock;
  readonly claim: ClaimOutcome;
}

/** createSwap, lock, watch and claim in one call. On a typed failure the store still holds the swap for refund/recover. */
export async function swap(client: SwapClient, p: SwapParams): Promise<SwapResult> {
  const created = await createSwap(client, p);
  const timeoutMs = p.stepTimeoutMs ?? 120_000;
  const userLock = await lock(client, created.swapId, { timeoutMs });
  p.onLocked?.({ swapId: created.swapId, chain: userLock.chain, lockId: userLock.lockId, timelock: userLock.timelock });
  const counterLock = await watch(client, created.swapId, { timeoutMs });
  const claimed = await claim(client, created.swapId, counterLock.lockId, { timeoutMs });
  return { swap: viewOf(await load(client, created.swapId)), userLock, counterLock, claim: claimed };
}

/** Least seconds the SDK requires a counter-lock to run when claiming on `dest` (re-exported for display). */
export { claimWindowSec };
