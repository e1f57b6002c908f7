import { createHash } from "node:crypto";
import { InvalidInputError, LedgerError } from "../../../chains/errors.ts";
import type {
  AssetInfo,
  Hex,
  HtlcLock,
  LedgerAdapter,
  LedgerEvent,
  LedgerHead,
  LedgerTiming,
  LockParams,
  LockResult,
  SubmitResult,
  VerifiedLock,
} from "../../../chains/ledger.ts";

/**
 * An in-memory ledger for relayer tests: every write is final at once (one block per tx),
 * chain time moves only when the test says so, and sends can be held at a gate or made to fail.
 */
export class FakeLedger implements LedgerAdapter {
  readonly kind = "evm" as const;
  readonly timing: LedgerTiming = { blockTimeSec: 1, finalitySec: 1, clockSkewSec: 1 };
  height = 10;
  time = 1_000_000;
  down = false;
  /** While set, lock() waits for it: a send "in flight". */
  gate: Promise<void> | null = null;
  sendsStarted = 0;
  headCalls = 0;
  getLockCalls = 0;
  /** Locks sent but not final yet: getLock (final state) does not show them, a second lock() is refused as existing. */
  readonly notFinal = new Set<Hex>();
  /** While set, every lock this ledger takes joins `notFinal`. */
  holdFinality = false;
  /** Transactions whose events the next events() answer leaves out (a node answering incompletely). */
  readonly hideOnce = new Set<string>();
  readonly locks = new Map<Hex, HtlcLock>();
  readonly log: LedgerEvent[] = [];
  readonly balances = new Map<string, bigint>();
  private readonly assetTable: AssetInfo[];

  constructor(
    readonly name: string,
    readonly address: Hex,
    assets: readonly string[],
  ) {
    this.assetTable = assets.map((symbol) => ({ symbol, decimals: 2, id: symbol }));
    for (const a of assets) this.balances.set(`${address}:${a}`, 1_000_000n);
  }

  assets(): readonly AssetInfo[] {
    return this.assetTable;
  }

  asset(symbol: string): AssetInfo {
    const a = this.assetTable.find((x) => x.symbol === symbol);
    if (!a) throw new InvalidInputError("asset", `${this.name} has no asset ${symbol}`);
    return a;
  }

  private check(): void {
    if (this.down) throw new LedgerError(this.name, "RPC_UNAVAILABLE", "connection refused");
  }

  async head(): Promise<LedgerHead> {
    this.headCalls++;
    this.check();
    return { finalizedHeight: this.height, finalizedTime: this.time, headHeight: this.height + 2 };
  }

  async events(from: number, to: number): Promise<LedgerEvent[]> {
    this.check();
    const out = this.log.filter((e) => e.height >= from && e.height <= to && !this.hideOnce.has(e.txId));
    for (const e of this.log) if (e.height >= from && e.height <= to) this.hideOnce.delete(e.txId);
    return out;
  }

  async getLock(lockId: Hex): Promise<VerifiedLock | null> {
    this.getLockCalls++;
    this.check();
    const lock = this.notFinal.has(lockId) ? undefined : this.locks.get(lockId);
    return lock ? { lock, verified: { kind: "finalized-rpc-read", height: this.height, blockHash: `0x${"00".repeat(32)}` } } : null;
  }

  lockIdFor(p: LockParams, sender: Hex = this.address): Hex {
    const h = createHash("sha256").update(JSON.stringify([sender, p.receiver, p.asset, p.amount.toString(), p.hashlock, p.timelock])).digest("hex");
    return `0x${h}`;
  }

  async balance(asset: string, owner: Hex = this.address): Promise<bigint> {
    this.check();
    this.asset(asset);
    return this.balances.get(`${owner}:${asset}`) ?? 0n;
  }

  private tx(): { txId: Hex; height: number } {
    this.height++;
    return { txId: `0x${createHash("sha256").update(`${this.name}:${this.height}`).digest("hex")}`, height: this.height };
  }

  /** A lock by anyone (the relayer through lock(), a user in tests). */
  lockAs(sender: Hex, p: LockParams): LockResult {
    const lockId = this.lockIdFor(p, sender);
    if (this.locks.has(lockId)) throw new LedgerError(this.name, "LOCK_EXISTS", "lock exists");
    const key = `${sender}:${p.asset}`;
    this.balances.set(key, (this.balances.get(key) ?? 0n) - p.amount);
    const lock = { chain: this.name, lockId, sender, ...p, status: "locked" as const };
    this.locks.set(lockId, lock);
    if (this.holdFinality) this.notFinal.add(lockId);
    const { txId, height } = this.tx();
    this.log.push({ kind: "locked", lock, txId, height, index: 0 });
    return { txId, height, lockId };
  }

  async lock(p: LockParams): Promise<LockResult> {
    this.check();
    this.sendsStarted++;
    if (this.gate) await this.gate;
    return this.lockAs(this.address, p);
  }

  claimAs(claimer: Hex, lockId: Hex, preimage: Hex): SubmitResult {
    const lock = this.locks.get(lockId);
    if (!lock || lock.status !== "locked") throw new LedgerError(this.name, "LOCK_NOT_OPEN", "not open");
    this.locks.set(lockId, { ...lock, status: "claimed", preimage });
    const key = `${claimer}:${lock.asset}`;
    this.balances.set(key, (this.balances.get(key) ?? 0n) + lock.amount);
    const { txId, height } = this.tx();
    this.log.push({ kind: "claimed", lockId, preimage, txId, height, index: 0 });
    return { txId, height };
  }

  /** Lock ids the relayer claimed, in order. */
  readonly claimed: Hex[] = [];

  async claim(lockId: Hex, preimage: Hex): Promise<SubmitResult> {
    this.check();
    this.claimed.push(lockId);
    return this.claimAs(this.address, lockId, preimage);
  }

  async refund(lockId: Hex): Promise<SubmitResult> {
    this.check();
    const lock = this.locks.get(lockId);
    if (!lock || lock.status !== "locked") throw new LedgerError(this.name, "LOCK_NOT_OPEN", "not open");
    this.locks.set(lockId, { ...lock, status: "refunded" });
    const { txId, height } = this.tx();
    this.log.push({ kind: "refunded", lockId, txId, height, index: 0 });
    return { txId, height };
  }

  async waitFinal(): Promise<void> {}

  async close(): Promise<void> {}
}
