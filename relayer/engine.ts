import { randomBytes } from "node:crypto";
import { getAddress } from "ethers";
import PQueue from "p-queue";
import { errorMessage, FinalityViolationError, InvalidInputError, IsthmusError, LedgerError, VerificationError } from "../chains/errors.ts";
import { hasEventStream, type EventStreamSource, type Hex, type HtlcLock, type LedgerAdapter, type LedgerEvent, type LedgerHead } from "../chains/ledger.ts";
import { checkEvidence } from "./core/evidence.ts";
import { convert, formatAmount, parseAmount } from "./core/amount.ts";
import {
  assessUserLock,
  decideAwaiting,
  decideClaiming,
  decideLocked,
  decideLocking,
  decideRefunding,
  type Step,
} from "./core/decide.ts";
import { checkDeadlines, nextSendEstimate } from "./core/capacity.ts";
import { actingChain, deadlineOf, stepPriority } from "./core/deadline.ts";
import { KeyedMutex } from "./core/keyed-mutex.ts";
import { chainReconnectDelayMs } from "./core/retry.ts";
import { findRoute, formatAssetRef, parseAssetRef, routeKey, type Route } from "./core/route.ts";
import type { Swap, SwapIn } from "./core/swap.ts";
import { computeMargin, minUserLockSec, type Margin, type TimelockPolicy } from "./core/timelock.ts";
import { failpoint } from "./failpoint.ts";
import type { Logger } from "./log.ts";
import type { ProofRole, SwapStore } from "./store.ts";

export class LiquidityError extends IsthmusError {
  override name = "LiquidityError";
  constructor(chain: string, asset: string, needed: bigint, available: bigint) {
    super("INSUFFICIENT_LIQUIDITY", `the relayer can lock at most ${available} base units of ${chain}:${asset} now, ${needed} asked`, {
      chain,
      asset,
      needed: needed.toString(),
      available: available.toString(),
    });
  }
}

/** The daemon is shutting down: it takes no new swaps (retry against a running relayer). */
export class ShuttingDownError extends IsthmusError {
  override name = "ShuttingDownError";
  constructor() {
    super("SHUTTING_DOWN", "the relayer is shutting down and takes no new swaps", {});
  }
}

/** Admitting another swap would make a deadline the relayer already holds unmeetable. */
export class OverCapacityError extends IsthmusError {
  override name = "OverCapacityError";
  constructor(chain: string, detail: { position: number; needSec: number; leftSec: number; sendSec: number; concurrency: number }) {
    super(
      "OVER_CAPACITY",
      `the relayer could not meet the deadlines it holds on ${chain} with another swap (deadline #${detail.position} has ${Math.floor(detail.leftSec)}s left, needs ${Math.ceil(detail.needSec)}s); retry later`,
      { chain, ...detail },
    );
  }
}

export interface EngineOptions {
  /** Steps (and so sends) run at once per chain. Default 4. */
  readonly concurrencyPerChain?: number;
  /** Every this many rounds, events of the last `rescanBlocks` scanned blocks are read again (0: never). Default 20. */
  readonly rescanEveryRounds?: number;
  /** Overlap window of a rescan, in blocks. Default 50. */
  readonly rescanBlocks?: number;
  /** Called when a ledger answers again after failures (metrics). */
  readonly onReconnect?: (chain: string) => void;
  /**
   * On the first round and every this many rounds, swaps awaiting the user's lock are
   * reconciled: the source's events from each swap's registration height up to the cursor are
   * read again (0: never). Default 60.
   */
  readonly reconcileEveryRounds?: number;
  /** Called per swap whose user lock reconciliation found after the watcher had missed it (metrics). */
  readonly onRediscovered?: (chain: string) => void;
  /** Called when what a ledger answered failed verification, so the relayer did not act (metrics). */
  readonly onVerificationFailure?: (chain: string, reason: string) => void;
}

/** A ledger's reachability as the watcher sees it. */
export interface ChainHealth {
  readonly failures: number;
  /** Epoch ms before which the watcher does not try the ledger again. */
  readonly retryAtMs: number;
}

export interface Quote {
  readonly from: string;
  readonly to: string;
  readonly amountIn: bigint;
  readonly amountOut: bigint;
  readonly amountInText: string;
  readonly amountOutText: string;
  readonly rate: string;
  /** The account on `from` the user must lock to. */
  readonly relayerFrom: Hex;
  /** The user's timelock must be at least this many seconds after the source chain's current time. */
  readonly minUserLockSec: number;
  readonly marginSec: number;
}

export interface CreateSwapRequest {
  readonly from: string;
  readonly to: string;
  readonly amount: string;
  readonly hashlock: string;
  readonly userFrom: string;
  readonly userTo: string;
}

const HEX32 = /^0x[0-9a-f]{64}$/;
const ZERO_ADDRESS = `0x${"0".repeat(40)}`;

/** A 0x address; mixed case must carry a valid EIP-55 checksum, since a typo there would misdirect funds. */
function parseUserAddress(value: unknown, what: string): Hex {
  const text = String(value ?? "");
  if (!/^0x[0-9a-fA-F]{40}$/.test(text)) throw new InvalidInputError(what, "must be a 20-byte 0x address");
  let address: string;
  try {
    address = getAddress(text).toLowerCase();
  } catch {
    throw new InvalidInputError(what, `${text} has a wrong EIP-55 checksum (mixed case); check the address`);
  }
  if (address === ZERO_ADDRESS) throw new InvalidInputError(what, "is the zero address");
  return address as Hex;
}
const SCAN_BATCH = 500;

/**
 * The swap engine: one watcher pass per ledger discovers user locks, then every active
 * swap is advanced by a pure decision and at most one ledger action. Each handler takes
 * the swap's lock, re-reads it from the store, decides, acts, saves.
 */
export class SwapEngine {
  private readonly mutex = new KeyedMutex();
  /** One queue per chain a step acts on; earliest deadline first (see core/deadline.ts). */
  private readonly queues = new Map<string, PQueue>();
  /** Seconds a send takes per chain (EWMA, floored at the chain's block time). */
  private readonly sendSec = new Map<string, number>();
  private readonly concurrency: number;
  private readonly health = new Map<string, ChainHealth>();
  /** (chain, tx, index) of events already handled, so overlapping scans act once. */
  private readonly seen = new Set<string>();
  private rounds = 0;
  /**
   * Swaps whose last step was "wait", with the state and both ledgers' final heights it was
   * decided at. A wait is a pure function of the stored swap and final ledger state (chain
   * time included), so until one of those heights moves the answer is the same and the
   * swap is not re-read: that keeps a round's cost proportional to what changed.
   */
  private readonly waiting = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly heads = new Map<string, LedgerHead>();

  constructor(
    private readonly ledgers: ReadonlyMap<string, LedgerAdapter>,
    readonly routes: readonly Route[],
    private readonly store: SwapStore,
    readonly policy: TimelockPolicy,
    private readonly log: Logger,
    private readonly pollMs: number,
    opts: EngineOptions = {},
  ) {
    this.concurrency = opts.concurrencyPerChain ?? 4;
    this.opts = opts;
  }

  private readonly opts: EngineOptions;

  /** Ledgers the watcher currently fails to reach, with their backoff. */
  chainHealth(): ReadonlyMap<string, ChainHealth> {
    return this.health;
  }

  private queue(chain: string): PQueue {
    let q = this.queues.get(chain);
    if (!q) this.queues.set(chain, (q = new PQueue({ concurrency: this.concurrency })));
    return q;
  }

  /** Record how long a send took on a chain (feeds admission control). */
  recordSend(chain: string, seconds: number): void {
    this.sendSec.set(chain, nextSendEstimate(this.sendSec.get(chain), seconds, this.ledger(chain).timing.blockTimeSec));
  }

  sendEstimateSec(chain: string): number {
    return this.sendSec.get(chain) ?? this.ledger(chain).timing.blockTimeSec;
  }

  /**
   * Refuse a new swap when, with its own sends added, some deadline already held on the
   * chains it would send on (counter-lock on \`to\`, claim on \`from\`) could not be met.
   */
  private assertCapacity(from: string, to: string, q: Quote): void {
    const held = new Map<string, number[]>([[from, []], [to, []]]);
    for (const s of this.store.listActive()) {
      const d = deadlineOf(s);
      const head = d && this.heads.get(d.chain);
      if (d && head && held.has(d.chain)) held.get(d.chain)!.push(d.time - head.finalizedTime);
    }
    // The new swap at its tightest: the user gives the minimum timelock.
    held.get(to)!.push(q.minUserLockSec - q.marginSec);
    held.get(from)!.push(q.minUserLockSec);
    for (const [chain, left] of held) {
      const sendSec = this.sendEstimateSec(chain);
      const v = checkDeadlines(left, sendSec, this.concurrency);
      if (!v.ok) throw new OverCapacityError(chain, { position: v.position, needSec: v.needSec, leftSec: v.leftSec, sendSec, concurrency: this.concurrency });
    }
  }

  ledger(name: string): LedgerAdapter {
    const l = this.ledgers.get(name);
    if (!l) throw new InvalidInputError("chain", `unknown chain "${name}" (known: ${[...this.ledgers.keys()].join(", ")})`);
    return l;
  }

  margins(): { route: string; margin: Margin; minUserLockSec: number }[] {
    return this.routes.map((r) => {
      const src = this.ledger(r.from.chain).timing;
      const dst = this.ledger(r.to.chain).timing;
      return { route: routeKey(r.from, r.to), margin: computeMargin(src, dst, this.policy), minUserLockSec: minUserLockSec(src, dst, this.policy) };
    });
  }

  /** Last heads seen by the watcher (refreshed every poll). */
  lastHeads(): ReadonlyMap<string, LedgerHead> {
    return this.heads;
  }

  async quote(fromText: string, toText: string, amountText: string): Promise<Quote> {
    const from = parseAssetRef(fromText, "from");
    const to = parseAssetRef(toText, "to");
    const route = findRoute(this.routes, from, to);
    const src = this.ledger(from.chain);
    const dst = this.ledger(to.chain);
    const inAsset = src.asset(from.asset);
    const outAsset = dst.asset(to.asset);
    const amountIn = parseAmount(amountText, inAsset.decimals);
    if (amountIn < route.minIn || amountIn > route.maxIn) {
      throw new InvalidInputError(
        "amount",
        `${amountText} ${from.asset} is outside this route's limits ${formatAmount(route.minIn, inAsset.decimals)}..${formatAmount(route.maxIn, inAsset.decimals)}`,
      );
    }
    const amountOut = convert(amountIn, inAsset.decimals, outAsset.decimals, route.rate);
    if (amountOut === 0n) throw new InvalidInputError("amount", `${amountText} ${from.asset} converts to nothing at rate ${route.rate.text}`);
    return {
      from: formatAssetRef(from),
      to: formatAssetRef(to),
      amountIn,
      amountOut,
      amountInText: formatAmount(amountIn, inAsset.decimals),
      amountOutText: formatAmount(amountOut, outAsset.decimals),
      rate: route.rate.text,
      relayerFrom: src.address,
      minUserLockSec: minUserLockSec(src.timing, dst.timing, this.policy),
      marginSec: computeMargin(src.timing, dst.timing, this.policy).totalSec,
    };
  }

  /** Register a swap the user is about to lock for. Reserves the relayer's liquidity for it. */
  async createSwap(req: CreateSwapRequest, tenant: string | null = null): Promise<Swap> {
    if (this.stopped) throw new ShuttingDownError();
    const hashlock = String(req.hashlock ?? "").toLowerCase();
    if (!HEX32.test(hashlock)) throw new InvalidInputError("hashlock", "must be 32 bytes of 0x-hex (sha256 of the secret)");
    const userFrom = parseUserAddress(req.userFrom, "userFrom");
    const userTo = parseUserAddress(req.userTo, "userTo");
    const q = await this.quote(req.from, req.to, req.amount);
    const from = parseAssetRef(q.from, "from");
    const to = parseAssetRef(q.to, "to");
    if (userFrom === this.ledger(from.chain).address) throw new InvalidInputError("userFrom", "is the relayer's own account");
    if (userTo === this.ledger(to.chain).address) throw new InvalidInputError("userTo", "is the relayer's own account");
    const [srcHead, balance] = await Promise.all([this.ledger(from.chain).head(), this.ledger(to.chain).balance(to.asset)]);
    // From here to insert is synchronous, so concurrent requests see each other's reservations.
    this.assertCapacity(from.chain, to.chain, q);
    const reserved = this.reserved(to.chain, to.asset);
    if (balance - reserved < q.amountOut) throw new LiquidityError(to.chain, to.asset, q.amountOut, balance - reserved);
    const swap: Swap = {
      id: randomBytes(12).toString("hex"),
      state: "awaiting_user_lock",
      from,
      to,
      amountIn: q.amountIn,
      amountOut: q.amountOut,
      hashlock: hashlock as Hex,
      userFrom,
      userTo,
      relayerFrom: q.relayerFrom,
      quoteExpiresAt: srcHead.finalizedTime + this.policy.quoteTtlSec,
      createdAtMs: Date.now(),
      sourceHeightAtCreate: srcHead.finalizedHeight,
    };
    if (this.stopped) throw new ShuttingDownError();
    this.store.insert(swap, `created for ${q.amountInText} ${from.asset} -> ${q.amountOutText} ${to.asset}`, tenant);
    this.log.info("swap created", { swap: swap.id, route: routeKey(from, to), amountIn: q.amountIn, amountOut: q.amountOut, tenant });
    return swap;
  }

  /** Liquidity promised to swaps whose counter-lock has not left the wallet yet. */
  private reserved(chain: string, asset: string): bigint {
    let sum = 0n;
    for (const s of this.store.listActive()) {
      if (s.to.chain !== chain || s.to.asset !== asset) continue;
      if (s.state === "awaiting_user_lock") sum += s.amountOut;
      if (s.state === "relayer_locking" && s.counterLock.txId === null) sum += s.amountOut;
    }
    return sum;
  }

  start(): void {
    if (this.timer || this.stopped) return;
    const loop = async () => {
      this.running = this.round().catch((err) => this.log.error("round failed", { err: errorMessage(err) }));
      await this.running;
      this.running = null;
      if (!this.stopped) this.timer = setTimeout(loop, this.pollMs);
    };
    this.timer = setTimeout(loop, 0);
  }

  /** True once stop() was called: no new swaps, no new steps; sends already under way finish. */
  get stopping(): boolean {
    return this.stopped;
  }

  /**
   * Graceful stop: refuse new swaps, start no new step, wait for the round and every step
   * under way (a send that left is awaited and its result saved), then resolve.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    await Promise.all([...this.queues.values()].map((q) => q.onIdle()));
  }

  /** One pass: refresh heads, scan new final events, advance every active swap. */
  async round(): Promise<void> {
    // Each ledger is watched on its own (watch() backs a failing one off without throwing),
    // so one ledger's trouble never stalls the others or the swaps that need only them.
    const every = this.opts.rescanEveryRounds ?? 20;
    const rescan = every > 0 && ++this.rounds % every === 0;
    const reconcileEvery = this.opts.reconcileEveryRounds ?? 60;
    const reconcile = reconcileEvery > 0 && (this.rounds === 1 || this.rounds % reconcileEvery === 0);
    await Promise.all([...this.ledgers.values()].map((l) => this.watch(l, rescan, reconcile)));
    // Earliest deadline first: sorted before queueing (a free slot starts a step at once) and
    // prioritised within each chain's queue.
    const chainTime = (c: string) => this.heads.get(c)?.finalizedTime;
    const active = this.store.listActive();
    if (this.waiting.size > 2 * active.length + 1000) this.waiting.clear();
    const steps = active
      .filter((s) => {
        const key = this.waitKey(s);
        return key === null || this.waiting.get(s.id) !== key;
      })
      .map((s) => ({ id: s.id, chain: actingChain(s), priority: stepPriority(s, chainTime) }))
      .sort((a, b) => b.priority - a.priority);
    await Promise.all(steps.map((s) => this.queue(s.chain).add(() => this.advance(s.id), { priority: s.priority })));
  }

  /**
   * One watcher pass over a ledger, isolated from the others: a ledger that fails is backed
   * off (retry policy chainReconnect) and, once it answers again, backfilled from its cursor.
   */
  private async watch(ledger: LedgerAdapter, rescan: boolean, reconcile = false): Promise<void> {
    const h = this.health.get(ledger.name);
    if (h && Date.now() < h.retryAtMs) return;
    try {
      await this.scan(ledger, rescan);
      if (reconcile) await this.reconcile(ledger);
      if (h) {
        this.health.delete(ledger.name);
        this.opts.onReconnect?.(ledger.name);
        this.log.info("chain reachable again; backfilled from the cursor", { chain: ledger.name, failures: h.failures, cursor: this.store.getCursor(ledger.name) });
      }
    } catch (err) {
      this.noteVerificationFailure(err);
      const failures = (h?.failures ?? 0) + 1;
      const delay = chainReconnectDelayMs(failures, this.pollMs);
      this.health.set(ledger.name, { failures, retryAtMs: Date.now() + delay });
      this.log.warn("chain unreachable; backing off", { chain: ledger.name, failures, retryInMs: delay, err: errorMessage(err) });
    }
  }

  private async scan(ledger: LedgerAdapter, rescan = false): Promise<void> {
    const head = await ledger.head();
    this.heads.set(ledger.name, head);
    if (hasEventStream(ledger)) return this.scanStream(ledger, head, rescan);
    let cursor = this.store.getCursor(ledger.name);
    if (cursor === null) {
      // First run: nothing can be owed to us from before any swap existed.
      this.store.setCursor(ledger.name, head.finalizedHeight);
      return;
    }
    if (rescan && cursor > 0) {
      // Overlap: a node may have answered an earlier range incompletely. Seen events are skipped.
      const from = Math.max(1, cursor - (this.opts.rescanBlocks ?? 50) + 1);
      for (const ev of await ledger.events(from, cursor)) await this.handleOnce(ledger, ev);
    }
    while (cursor < head.finalizedHeight && !this.stopped) {
      const to = Math.min(head.finalizedHeight, cursor + SCAN_BATCH);
      const events = await ledger.events(cursor + 1, to);
      for (const ev of events) await this.handleOnce(ledger, ev);
      // Advance only after every event of the range was handled (or durably ignored).
      this.store.setCursor(ledger.name, to);
      cursor = to;
    }
  }

  /**
   * A chain whose events arrive as a resumable stream (Fabric chaincode events): each event
   * is handled, then its checkpoint is stored, so a restart resumes right after the last
   * handled event (a crash between the two re-delivers that one event, and handling is
   * idempotent). The rescan re-reads the blocks before the checkpoint, as for block scans.
   */
  private async scanStream(ledger: LedgerAdapter & EventStreamSource, head: LedgerHead, rescan: boolean): Promise<void> {
    let from = this.store.getEventCheckpoint(ledger.name);
    if (from === null) {
      // First run (or a store that scanned blocks before): resume after the cursor, else after the head.
      from = { block: (this.store.getCursor(ledger.name) ?? head.finalizedHeight) + 1, afterTxId: null };
      this.store.setEventCheckpoint(ledger.name, from);
    }
    if (rescan) {
      const last = Math.min(from.block, head.finalizedHeight);
      const first = Math.max(1, last - (this.opts.rescanBlocks ?? 50) + 1);
      if (last >= first) for (const ev of await ledger.events(first, last)) await this.handleOnce(ledger, ev);
    }
    const batch = await ledger.eventsFrom(from, head.finalizedHeight);
    for (const { event, next } of batch.events) {
      if (this.stopped) return;
      await this.handleOnce(ledger, event);
      this.store.setEventCheckpoint(ledger.name, next);
    }
    this.store.setEventCheckpoint(ledger.name, batch.next);
    // For the scan-lag metric and logs only: the head this pass read the stream up to (the
    // checkpoint, not the cursor, is where the stream resumes).
    this.store.setCursor(ledger.name, head.finalizedHeight);
  }

  /**
   * Every swap past the user's lock is advanced from the ledgers' proven lock state each round
   * (getLock: claimed with its preimage, refunded, still locked), never from events. Only the
   * discovery of the user's lock comes from events; here those are read again from each
   * awaiting swap's registration height up to the cursor, de-duplicated as always.
   */
  private async reconcile(ledger: LedgerAdapter): Promise<void> {
    const cursor = this.store.getCursor(ledger.name);
    if (cursor === null) return;
    const awaiting = this.store.listActive().filter((s) => s.state === "awaiting_user_lock" && s.from.chain === ledger.name);
    if (awaiting.length === 0) return;
    const fallback = cursor - (this.opts.rescanBlocks ?? 50) + 1; // swaps stored before sourceHeightAtCreate existed
    const from = Math.max(1, awaiting.reduce((m, s) => Math.min(m, s.sourceHeightAtCreate ?? fallback), cursor));
    for (let lo = from; lo <= cursor && !this.stopped; lo += SCAN_BATCH) {
      for (const ev of await ledger.events(lo, Math.min(cursor, lo + SCAN_BATCH - 1))) await this.handleOnce(ledger, ev);
    }
    for (const s of awaiting) {
      const now = this.store.get(s.id);
      if (now && now.state !== "awaiting_user_lock") {
        this.opts.onRediscovered?.(ledger.name);
        this.log.warn("reconciliation found a user lock the watcher had missed", { swap: s.id, chain: ledger.name, state: now.state, fromHeight: from, cursor });
      }
    }
  }

  /** De-duplicate by (chain, tx, log index); handling is idempotent anyway, this saves the reads. */
  private async handleOnce(ledger: LedgerAdapter, ev: LedgerEvent): Promise<void> {
    const key = `${ledger.name}:${ev.txId}:${ev.index}`;
    if (this.seen.has(key)) return;
    await this.onEvent(ledger, ev);
    if (ev.kind === "locked") {
      // Not settled while its swap still awaits the lock (e.g. the lock was not yet readable
      // as final): a later rescan may try it again.
      const swap = this.store.findByHashlock(ev.lock.hashlock);
      if (swap?.state === "awaiting_user_lock" && swap.from.chain === ledger.name) return;
    }
    if (this.seen.size >= 100_000) this.seen.clear();
    this.seen.add(key);
  }

  private async onEvent(ledger: LedgerAdapter, ev: LedgerEvent): Promise<void> {
    if (ev.kind !== "locked" || ev.lock.receiver !== ledger.address) return;
    const known = this.store.findByHashlock(ev.lock.hashlock);
    if (!known) {
      this.log.warn("lock to the relayer matches no swap; the sender can refund it", { chain: ledger.name, lockId: ev.lock.lockId });
      return;
    }
    if (known.from.chain !== ledger.name) return;
    await this.mutex.run(known.id, async () => {
      const swap = this.store.get(known.id);
      if (!swap || swap.state !== "awaiting_user_lock") return;
      await this.acceptUserLock(swap, ev.lock.lockId, ev.txId);
    });
  }

  /** Verify the user's lock from the ledger's own proven state (never the event alone) and plan the counter-lock. */
  private async acceptUserLock(swap: SwapIn<"awaiting_user_lock">, lockId: Hex, txId: Hex): Promise<void> {
    const src = this.ledger(swap.from.chain);
    const dst = this.ledger(swap.to.chain);
    const verified = await src.getLock(lockId);
    if (!verified) {
      // The ledger's own proven state says no such lock: the event was false (or not yet final).
      const reason = `lock event ${lockId} not backed by the lock's proven state`;
      this.log.warn("lock event not backed by final state; ignored", { swap: swap.id, chain: src.name, lockId, reason });
      this.opts.onVerificationFailure?.(src.name, reason);
      return;
    }
    // Before any counter-lock: a proof bundle of this very lock, re-verified as an auditor would.
    const evidence = await this.proveLock(src, verified.lock);
    const [sourceHead, destHead] = await Promise.all([src.head(), dst.head()]);
    const verdict = assessUserLock({
      swap,
      lock: verified.lock,
      txId,
      sourceFinalizedTime: sourceHead.finalizedTime,
      destFinalizedTime: destHead.finalizedTime,
      source: src.timing,
      dest: dst.timing,
      policy: this.policy,
    });
    if (verdict.ok === "ignore") {
      this.log.warn("lock with this swap's hashlock ignored", { swap: swap.id, lockId, detail: verdict.detail });
      return;
    }
    this.storeEvidence(swap.id, "user-lock", src.name, verified.lock, evidence);
    if (!verdict.ok) {
      const l = verified.lock;
      const userLock = { chain: src.name, lockId: l.lockId, txId, amount: l.amount, timelock: l.timelock };
      this.store.update(swap, { ...swap, state: "rejected", reason: verdict.reason, detail: verdict.detail, userLock }, `${verdict.reason}: ${verdict.detail}`, {
        chain: src.name,
        txId,
      });
      this.log.warn("user lock rejected; no counter-lock", { swap: swap.id, reason: verdict.reason, detail: verdict.detail });
      return;
    }
    const params = { receiver: swap.userTo, asset: swap.to.asset, amount: swap.amountOut, hashlock: swap.hashlock, timelock: verdict.counterTimelock };
    const next: Swap = {
      ...swap,
      state: "relayer_locking",
      userLock: verdict.userLock,
      counterLock: { chain: dst.name, lockId: dst.lockIdFor(params), txId: null, ...params },
    };
    this.store.update(swap, next, `user lock verified (${verified.verified.kind} at height ${verified.verified.height}); counter-lock planned`, {
      chain: src.name,
      txId,
    });
    this.log.info("user lock verified", { swap: swap.id, lockId, counterTimelock: verdict.counterTimelock, userTimelock: verified.lock.timelock });
    failpoint("after:relayer_locking", routeKey(swap.from, swap.to));
  }

  /**
   * A proof bundle of `lock` from its ledger, checked to prove exactly that lock; null when
   * the adapter offers no bundles. A bundle that is missing or proves something else is a
   * VerificationError: the caller does not act.
   */
  private async proveLock(ledger: LedgerAdapter, lock: HtlcLock) {
    if (!ledger.proveLock) return null;
    const bundle = await ledger.proveLock(lock.lockId);
    if (!bundle) throw new VerificationError(ledger.name, `lock ${lock.lockId} was read as verified but its proof bundle says it does not exist`, { lockId: lock.lockId });
    const c = checkEvidence(bundle, lock);
    if (!c.ok) throw new VerificationError(ledger.name, `lock ${lock.lockId}: ${c.reason}`, { lockId: lock.lockId });
    return bundle;
  }

  private storeEvidence(swapId: string, role: ProofRole, chain: string, lock: HtlcLock, bundle: Awaited<ReturnType<SwapEngine["proveLock"]>>): void {
    if (!bundle) return;
    const p = this.store.addProof(swapId, { role, chain, lockId: lock.lockId, bundle });
    this.log.info("proof bundle stored", { swap: swapId, role, chain, lockId: lock.lockId, kind: p.kind, seq: p.seq });
  }

  /** A refusal because a ledger's answer did not verify: logged with its reason and counted. */
  private noteVerificationFailure(err: unknown, swap?: string): void {
    if (!(err instanceof VerificationError)) return;
    const chain = String(err.details.chain ?? "unknown");
    const reason = String(err.details.reason ?? err.message);
    this.log.warn("ledger answer failed verification; relayer did not act", { chain, reason, ...(swap ? { swap } : {}) });
    this.opts.onVerificationFailure?.(chain, reason);
  }

  /** Advance one swap by one step, under its lock, from a fresh read. */
  async advance(id: string): Promise<void> {
    if (this.stopped) return;
    await this.mutex.run(id, async () => {
      if (this.stopped) return;
      const swap = this.store.get(id);
      if (!swap) return;
      // Heights known before deciding: the decision reads state at least this new.
      const key = this.waitKey(swap);
      this.waiting.delete(id);
      try {
        const step = await this.decide(swap);
        if (step.kind === "wait" && key !== null) this.waiting.set(id, key);
        await this.apply(swap, step);
      } catch (err) {
        this.noteVerificationFailure(err, id);
        const fields = { swap: id, state: swap.state, err: errorMessage(err), code: err instanceof IsthmusError ? err.code : undefined };
        if (err instanceof FinalityViolationError) {
          // Acting on anything from that chain could act twice or on a lock that no longer exists.
          this.log.error("finalized history changed (reorg deeper than the finality rule?): the swap waits, operator attention needed", fields);
        } else {
          this.log.warn("swap step failed; will retry", fields);
        }
      }
    });
  }

  private waitKey(s: Swap): string | null {
    const a = this.heads.get(s.from.chain);
    const b = this.heads.get(s.to.chain);
    return a && b ? `${s.state}:${a.finalizedHeight}:${b.finalizedHeight}` : null;
  }

  private async decide(swap: Swap): Promise<Step> {
    switch (swap.state) {
      case "awaiting_user_lock":
        return decideAwaiting(swap, (await this.ledger(swap.from.chain).head()).finalizedTime);
      case "relayer_locking": {
        const dst = this.ledger(swap.to.chain);
        // Head first, then the lock: "absent" must be read at a height no older than the time
        // that says it expired, or a lock landing between two parallel reads is abandoned.
        const head = await dst.head();
        const counter = await dst.getLock(swap.counterLock.lockId);
        if (counter === null && head.finalizedTime >= swap.counterLock.timelock) {
          // Final time is past the timelock and no lock exists: no ledger will accept it any more.
          return {
            kind: "transition",
            next: { ...swap, state: "rejected", reason: "COUNTER_LOCK_IMPOSSIBLE", detail: "counter-lock timelock passed before it could be placed", userLock: swap.userLock },
            note: "counter-lock can no longer be placed; the user refunds",
          };
        }
        return decideLocking(swap, counter);
      }
      case "relayer_locked": {
        const dst = this.ledger(swap.to.chain);
        const [counter, head] = await Promise.all([dst.getLock(swap.counterLock.lockId), dst.head()]);
        return decideLocked(swap, counter, head.finalizedTime);
      }
      case "relayer_claiming": {
        return decideClaiming(swap, await this.ledger(swap.from.chain).getLock(swap.userLock.lockId));
      }
      case "relayer_refunding":
        return decideRefunding(swap, await this.ledger(swap.to.chain).getLock(swap.counterLock.lockId));
      default:
        return { kind: "wait", why: `final state ${swap.state}` };
    }
  }

  private async apply(swap: Swap, step: Step): Promise<void> {
    switch (step.kind) {
      case "wait":
        return;
      case "transition":
        if (swap.state === "relayer_locked" && (step.next.state === "relayer_claiming" || step.next.state === "relayer_refunding")) {
          // The state a claim or refund relies on (the counter-lock claimed, or still locked past its timelock), proven and kept.
          const dst = this.ledger(swap.to.chain);
          const counter = await dst.getLock(swap.counterLock.lockId);
          const want = step.next.state === "relayer_claiming" ? "claimed" : "locked";
          if (!counter || counter.lock.status !== want) return; // changed since the decision: decide again next round
          const evidence = await this.proveLock(dst, counter.lock);
          this.storeEvidence(swap.id, want === "claimed" ? "counter-lock-claimed" : "counter-lock-expired", dst.name, counter.lock, evidence);
        }
        this.store.update(swap, step.next, step.note);
        if (step.next.state === "failed") {
          // The one outcome that loses relayer funds: make it loud.
          this.log.error("swap FAILED: relayer funds lost, operator attention needed", { swap: swap.id, from: swap.state, note: step.note });
        } else {
          this.log.info("swap moved", { swap: swap.id, from: swap.state, to: step.next.state, note: step.note });
        }
        failpoint(`after:${step.next.state}`, routeKey(swap.from, swap.to));
        return;
      case "send":
        return this.send(swap, step.action);
    }
  }

  /**
   * A send that returned (a tx id, even a receipt) but whose effect the final state does not
   * show yet. Usually it is only not final yet: the ledger then refuses the resend as already
   * done (the lock exists, the lock is no longer open), which is no news. When the resend went
   * out as a new transaction, the first was dropped by the node or a node lied about it:
   * sending again is safe (lock ids are deterministic, claims and refunds idempotent), and the
   * operator should know it happened.
   */
  private noteResend(swap: string, action: string, chain: string, previousTxId: Hex | null | undefined, sent: { readonly txId: Hex } | null): void {
    if (!previousTxId) return;
    if (sent) this.log.warn("earlier send not in final state; sending again", { swap, action, chain, previousTxId, txId: sent.txId });
    else this.log.debug("earlier send not final yet; the ledger refused the resend as already done", { swap, action, chain, previousTxId });
  }

  /** Send one transaction; its effect is observed on a later round from final state, never assumed. */
  private async send(swap: Swap, action: "counter-lock" | "claim" | "refund"): Promise<void> {
    if (action === "counter-lock" && swap.state === "relayer_locking") {
      const c = swap.counterLock;
      const res = await this.tolerateDone(() =>
        this.ledger(c.chain).lock({ receiver: c.receiver, asset: c.asset, amount: c.amount, hashlock: swap.hashlock, timelock: c.timelock }),
        c.chain,
      );
      this.noteResend(swap.id, action, c.chain, c.txId, res);
      failpoint("sent:counter-lock", routeKey(swap.from, swap.to));
      if (res) this.store.update(swap, { ...swap, counterLock: { ...c, txId: res.txId } }, "counter-lock sent", { chain: c.chain, txId: res.txId });
      if (res) this.log.info("counter-lock sent", { swap: swap.id, chain: c.chain, txId: res.txId, lockId: c.lockId });
    } else if (action === "claim" && swap.state === "relayer_claiming") {
      const res = await this.tolerateDone(() => this.ledger(swap.from.chain).claim(swap.userLock.lockId, swap.preimage), swap.from.chain);
      this.noteResend(swap.id, action, swap.from.chain, swap.claimTxId, res);
      failpoint("sent:claim", routeKey(swap.from, swap.to));
      if (res) this.store.update(swap, { ...swap, claimTxId: res.txId }, "claim sent", { chain: swap.from.chain, txId: res.txId });
      if (res) this.log.info("claim sent", { swap: swap.id, chain: swap.from.chain, txId: res.txId });
    } else if (action === "refund" && swap.state === "relayer_refunding") {
      const res = await this.tolerateDone(() => this.ledger(swap.to.chain).refund(swap.counterLock.lockId), swap.to.chain);
      this.noteResend(swap.id, action, swap.to.chain, swap.refundTxId, res);
      failpoint("sent:refund", routeKey(swap.from, swap.to));
      if (res) this.store.update(swap, { ...swap, refundTxId: res.txId }, "refund sent", { chain: swap.to.chain, txId: res.txId });
      if (res) this.log.info("refund sent", { swap: swap.id, chain: swap.to.chain, txId: res.txId });
    } else {
      throw new TypeError(`send: action ${action} does not fit state ${swap.state}`);
    }
  }

  /**
   * A ledger saying the lock already exists or is no longer open means an earlier attempt
   * (ours before a crash, or a third party) already acted: the next round reads the outcome.
   */
  private async tolerateDone<T>(send: () => Promise<T>, chain?: string): Promise<T | null> {
    const t0 = performance.now();
    try {
      const res = await send();
      if (chain) this.recordSend(chain, (performance.now() - t0) / 1000);
      return res;
    } catch (err) {
      if (isAlreadyDone(err)) return null;
      throw err;
    }
  }
}

/** Ledger refusals that mean "this already happened": consortium codes, EVM revert names. */
const ALREADY_DONE = new Set(["LOCK_EXISTS", "LockExists", "LOCK_NOT_OPEN", "NotLocked"]);

function isAlreadyDone(err: unknown): boolean {
  if (!(err instanceof LedgerError)) return false;
  const revert = (err.details.revert as { name?: string } | undefined)?.name;
  return ALREADY_DONE.has(err.code) || (revert !== undefined && ALREADY_DONE.has(revert));
}
