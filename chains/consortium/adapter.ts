/**
 * The consortium chain as a LedgerAdapter, for one key holder, over the node's gRPC API.
 *
 * Trust: the validator set (and chain id) given at construction, e.g. from genesis. Locks
 * and events are VERIFIED: each answer comes with a header, its commit and a Merkle proof;
 * the commit must carry more than 2/3 of the trusted stake and the proof must lead to the
 * header's state / results root (proofs/consortium), else VerificationError. A lock proof
 * may not anchor below a height this adapter already verified (no stale state). Balances,
 * heads and a sent tx's outcome are the node's word (they are not proofs of anything the
 * relayer pays on). The chain has instant finality: a committed block is final.
 *
 * Sends (lock/claim/refund) run one at a time with a locally tracked nonce, initialised
 * from the node's pending nonce and re-read after a BAD_NONCE refusal.
 */
import { type Hex, isHex } from "../../proofs/hex.ts";
import { type ConsortiumLockBundle, makeConsortiumLockBundle } from "../../proofs/bundle.ts";
import { verifyEventProof, verifyLockAbsence, verifyLockProof } from "../../proofs/consortium/entry-proof.ts";
import { type ChainEvent } from "../../proofs/consortium/results.ts";
import { verifyCommit } from "../../proofs/consortium/commit.ts";
import { type LockRecord, ASSET_SYMBOL_RE, lockIdFor as proofLockIdFor } from "../../proofs/consortium/state.ts";
import { type ValidatorSet, hashValidatorSet, makeValidatorSet } from "../../proofs/consortium/validators.ts";
import { InvalidInputError, LedgerError, VerificationError } from "../errors.ts";
import type {
  AssetInfo,
  HtlcLock,
  LedgerAdapter,
  LedgerEvent,
  LedgerHead,
  LedgerTiming,
  LockParams,
  LockResult,
  SubmitResult,
  VerifiedLock,
} from "../ledger.ts";
import { RpcErrorCode, TxErrorCode, TxRejectedError } from "./codes.ts";
import { Signer } from "./crypto.ts";
import { NATIVE_ASSET } from "./genesis.ts";
import { ConsortiumClient, type TxStatus } from "./rpc/client.ts";
import { type TxBody, signTx } from "./tx.ts";

export interface ConsortiumLedgerOptions {
  /** Ledger name used in errors and in returned locks, e.g. "consortium". */
  readonly name: string;
  /** Node gRPC endpoint, "127.0.0.1:<port>". */
  readonly endpoint: string;
  readonly chainId: number;
  /** 0x-hex secp256k1 key of the account this adapter acts for. */
  readonly privateKey: string;
  /** The trusted validator set (from genesis): every commit is verified against it. */
  readonly validators: readonly { readonly address: string; readonly stake: bigint }[];
  /** Block interval in seconds (one block is also the finality delay). */
  readonly blockTimeSec: number;
  /** The chain's clock-skew bound in seconds. */
  readonly clockSkewSec: number;
  /**
   * The chain's assets (from genesis). Without them only ISTH is known until the first
   * call that reaches the node (or `connect()`) loads the node's asset table.
   */
  readonly assets?: readonly { readonly symbol: string; readonly decimals: number }[];
  /** How long lock/claim/refund wait for inclusion; default 30 s. */
  readonly txTimeoutMs?: number;
}

const DEFAULT_TX_TIMEOUT_MS = 30_000;
const DEFAULT_WAIT_FINAL_MS = 60_000;

export class ConsortiumLedger implements LedgerAdapter {
  readonly name: string;
  readonly kind = "consortium" as const;
  readonly timing: LedgerTiming;
  readonly address: Hex;
  readonly chainId: number;
  readonly validatorSet: ValidatorSet;
  readonly #client: ConsortiumClient;
  readonly #signer: Signer;
  readonly #txTimeoutMs: number;
  readonly #assets = new Map<string, AssetInfo>();
  #assetsLoaded: boolean;
  #connected: Promise<void> | null = null;
  #nonce: number | null = null;
  #sendTail: Promise<unknown> = Promise.resolve();
  /** Highest height this adapter has verified as final; later lock proofs may not anchor below it. */
  #floorHeight = 0;
  #lastHead: LedgerHead | null = null;

  constructor(opts: ConsortiumLedgerOptions) {
    if (!Number.isSafeInteger(opts.chainId) || opts.chainId <= 0) throw new InvalidInputError(`${opts.name}.chainId`, "must be a positive integer");
    if (!(opts.blockTimeSec > 0)) throw new InvalidInputError(`${opts.name}.blockTimeSec`, "must be positive");
    if (!(opts.clockSkewSec >= 0)) throw new InvalidInputError(`${opts.name}.clockSkewSec`, "must not be negative");
    this.name = opts.name;
    this.chainId = opts.chainId;
    this.#signer = Signer.fromPrivateKey(opts.privateKey);
    this.address = this.#signer.address;
    try {
      this.validatorSet = makeValidatorSet(opts.validators);
    } catch (err) {
      throw new InvalidInputError(`${opts.name}.validators`, (err as Error).message);
    }
    this.timing = Object.freeze({ blockTimeSec: opts.blockTimeSec, finalitySec: opts.blockTimeSec, clockSkewSec: opts.clockSkewSec });
    this.#txTimeoutMs = opts.txTimeoutMs ?? DEFAULT_TX_TIMEOUT_MS;
    this.#client = new ConsortiumClient(opts.endpoint, { chain: opts.name });
    this.addAsset(NATIVE_ASSET.symbol, NATIVE_ASSET.decimals);
    for (const a of opts.assets ?? []) this.addAsset(a.symbol, a.decimals);
    this.#assetsLoaded = opts.assets !== undefined;
  }

  /** Constructs and connects (checks chain id and validator set, loads assets). */
  static async connect(opts: ConsortiumLedgerOptions): Promise<ConsortiumLedger> {
    const ledger = new ConsortiumLedger(opts);
    try {
      await ledger.connect();
    } catch (err) {
      await ledger.close();
      throw err;
    }
    return ledger;
  }

  /** Checks the node serves the configured chain with the trusted validator set; idempotent. */
  connect(): Promise<void> {
    this.#connected ??= this.doConnect().catch((err: unknown) => {
      this.#connected = null;
      throw err;
    });
    return this.#connected;
  }

  private async doConnect(): Promise<void> {
    const status = await this.#client.getStatus();
    if (status.chainId !== this.chainId) {
      throw new LedgerError(this.name, RpcErrorCode.WRONG_CHAIN, `node serves chain ${status.chainId}, expected ${this.chainId}`, { expected: this.chainId, answered: status.chainId });
    }
    if (status.validatorsHash !== hashValidatorSet(this.validatorSet)) {
      throw new VerificationError(this.name, "node's validator set differs from the trusted set", { answered: status.validatorsHash });
    }
    if (!this.#assetsLoaded) {
      for (const a of status.assets) this.addAsset(a.symbol, a.decimals);
      this.#assetsLoaded = true;
    }
  }

  assets(): readonly AssetInfo[] {
    return [...this.#assets.values()];
  }

  asset(symbol: string): AssetInfo {
    const found = this.#assets.get(symbol);
    if (found) return found;
    const hint = this.#assetsLoaded ? "" : " (asset table not loaded yet: pass `assets` or await connect())";
    throw new InvalidInputError("asset", `${this.name} has no asset "${symbol}"${hint}`, { chain: this.name, symbol });
  }

  /**
   * The latest final block, checked: its commit must carry more than 2/3 of the trusted
   * stake, and neither height nor time may go backwards. Expiry decisions read this time,
   * so a lying node must not be able to move it.
   */
  async head(): Promise<LedgerHead> {
    await this.connect();
    const status = await this.#client.getStatus();
    if (status.height === 0) return { finalizedHeight: 0, finalizedTime: Math.floor(status.lastBlockTimeMs / 1000), headHeight: 0 };
    const block = await this.#client.getBlock(status.height);
    if (!block) throw new VerificationError(this.name, `node reports height ${status.height} but serves no block there`);
    const { header } = block;
    if (header.chainId !== this.chainId) throw new VerificationError(this.name, `head block is for chain ${header.chainId}, not ${this.chainId}`);
    if (header.height !== status.height) throw new VerificationError(this.name, `asked for block ${status.height}, got ${header.height}`);
    const v = verifyCommit(header, block.commit, this.validatorSet);
    if (!v.ok) throw new VerificationError(this.name, `head block ${header.height}: ${v.reason}`, { height: header.height });
    const head = { finalizedHeight: header.height, finalizedTime: Math.floor(header.timeMs / 1000), headHeight: header.height };
    const last = this.#lastHead;
    // Concurrent calls may finish out of order: an older verified head is not a lie, and the
    // newest verified one is still the answer.
    if (last && head.finalizedHeight <= last.finalizedHeight) return last;
    if (last && head.finalizedTime < last.finalizedTime) {
      throw new VerificationError(this.name, `block time went backwards: ${head.finalizedHeight}@${head.finalizedTime} after ${last.finalizedHeight}@${last.finalizedTime}`);
    }
    this.#lastHead = head;
    return head;
  }

  async events(fromHeight: number, toHeight: number): Promise<LedgerEvent[]> {
    if (!Number.isSafeInteger(fromHeight) || !Number.isSafeInteger(toHeight) || fromHeight < 0) {
      throw new InvalidInputError("events", `bad height range ${fromHeight}..${toHeight}`);
    }
    await this.connect();
    const out: LedgerEvent[] = [];
    let from = Math.max(fromHeight, 1);
    while (from <= toHeight) {
      const page = await this.#client.getEvents(from, toHeight);
      if (page.toHeight < from - 1 || page.toHeight > toHeight) throw new VerificationError(this.name, `events page ends at ${page.toHeight}, outside ${from}..${toHeight}`);
      let lastHeight = from - 1;
      for (const block of page.blocks) {
        const h = block.header.height;
        if (h <= lastHeight || h > page.toHeight) throw new VerificationError(this.name, `events block ${h} out of order or range`);
        lastHeight = h;
        for (const e of block.events) {
          const v = verifyEventProof({ chainId: this.chainId, validatorSet: this.validatorSet, header: block.header, commit: block.commit, ...e });
          if (!v.ok) throw new VerificationError(this.name, `event at height ${h}: ${v.reason}`, { height: h, txIndex: e.txIndex });
          const ev = this.toLedgerEvent(v.event, v.txHash, h, e.eventIndex);
          if (ev) out.push(ev);
        }
        this.raiseFloor(h);
      }
      if (page.toHeight < from) {
        // Returning less than asked would let a caller advance its cursor past unseen events.
        throw new LedgerError(this.name, RpcErrorCode.NODE_BEHIND, `node has not reached height ${from} (asked for events up to ${toHeight})`, { fromHeight, toHeight });
      }
      from = page.toHeight + 1;
    }
    return out;
  }

  async getLock(lockId: Hex): Promise<VerifiedLock | null> {
    if (!isHex(lockId, 32)) throw new InvalidInputError("lockId", "expected 32-byte 0x-hex");
    const id = lockId.toLowerCase() as Hex;
    await this.connect();
    const answer = await this.#client.getLock(id);
    if (!answer) throw new VerificationError(this.name, `lock ${id}: the node proved neither the lock nor its absence`, { lockId: id });
    if (!answer.found) {
      // "No such lock" must be proven too: adjacent leaves in the state tree of a final block.
      const a = verifyLockAbsence({ chainId: this.chainId, validatorSet: this.validatorSet, header: answer.header, commit: answer.commit, lockId: id, absence: answer.absence });
      if (!a.ok) throw new VerificationError(this.name, `absence of lock ${id}: ${a.reason}`, { lockId: id });
      if (a.height < this.#floorHeight) {
        throw new VerificationError(this.name, `absence of lock ${id} proven at height ${a.height}, below already final height ${this.#floorHeight}`, { lockId: id });
      }
      this.raiseFloor(a.height);
      return null;
    }
    const v = verifyLockProof({ chainId: this.chainId, validatorSet: this.validatorSet, header: answer.header, commit: answer.commit, lockId: id, value: answer.value, proof: answer.proof });
    if (!v.ok) throw new VerificationError(this.name, `lock ${id}: ${v.reason}`, { lockId: id });
    if (v.height < this.#floorHeight) {
      throw new VerificationError(this.name, `lock ${id} proven at height ${v.height}, below already final height ${this.#floorHeight}`, { lockId: id });
    }
    this.raiseFloor(v.height);
    return { lock: this.toHtlcLock(id, v.lock), verified: { kind: "state-proof", height: v.height, stateRoot: v.stateRoot } };
  }

  /** The `consortium-lock` bundle (proofs/bundle.ts) of lock `lockId`, verified here first; null when its absence is proven. */
  async proveLock(lockId: Hex): Promise<ConsortiumLockBundle | null> {
    if (!isHex(lockId, 32)) throw new InvalidInputError("lockId", "expected 32-byte 0x-hex");
    const id = lockId.toLowerCase() as Hex;
    await this.connect();
    const answer = await this.#client.getLock(id);
    if (!answer) throw new VerificationError(this.name, `lock ${id}: the node proved neither the lock nor its absence`, { lockId: id });
    if (!answer.found) return (await this.getLock(id)) === null ? null : this.proveLock(id);
    const v = verifyLockProof({ chainId: this.chainId, validatorSet: this.validatorSet, header: answer.header, commit: answer.commit, lockId: id, value: answer.value, proof: answer.proof });
    if (!v.ok) throw new VerificationError(this.name, `lock ${id}: ${v.reason}`, { lockId: id });
    if (v.height < this.#floorHeight) throw new VerificationError(this.name, `lock ${id} proven at height ${v.height}, below already final height ${this.#floorHeight}`, { lockId: id });
    this.raiseFloor(v.height);
    return makeConsortiumLockBundle({ chain: this.name, chainId: this.chainId, lockId: id, header: answer.header, commit: answer.commit, validatorSet: this.validatorSet, value: answer.value, proof: answer.proof });
  }

  lockIdFor(params: LockParams, sender: Hex = this.address): Hex {
    this.checkLockParams(params);
    if (!isHex(sender, 20)) throw new InvalidInputError("sender", "expected a 20-byte 0x-hex address");
    return proofLockIdFor(sender.toLowerCase() as Hex, { ...params, receiver: params.receiver.toLowerCase() as Hex, hashlock: params.hashlock.toLowerCase() as Hex });
  }

  async balance(asset: string, owner: Hex = this.address): Promise<bigint> {
    if (!isHex(owner, 20)) throw new InvalidInputError("owner", "expected a 20-byte 0x-hex address");
    await this.connect();
    this.asset(asset);
    const account = await this.#client.getAccount(owner.toLowerCase() as Hex);
    return account.balances.get(asset) ?? 0n;
  }

  async lock(params: LockParams): Promise<LockResult> {
    this.checkLockParams(params);
    const lockId = this.lockIdFor(params);
    const body: TxBody = {
      kind: "lock",
      receiver: params.receiver.toLowerCase() as Hex,
      asset: params.asset,
      amount: params.amount,
      hashlock: params.hashlock.toLowerCase() as Hex,
      timelock: params.timelock,
    };
    const st = await this.send("lock", body);
    const locked = st.events.find((e) => e.kind === "locked");
    if (!locked || locked.lockId !== lockId) throw new VerificationError(this.name, `lock tx ${st.hash} did not report lock ${lockId}`, { txId: st.hash });
    return { txId: st.hash, height: st.height, lockId };
  }

  async claim(lockId: Hex, preimage: Hex): Promise<SubmitResult> {
    if (!isHex(lockId, 32)) throw new InvalidInputError("lockId", "expected 32-byte 0x-hex");
    if (!isHex(preimage, 32)) throw new InvalidInputError("preimage", "expected 32-byte 0x-hex");
    const st = await this.send("claim", { kind: "claim", lockId: lockId.toLowerCase() as Hex, preimage: preimage.toLowerCase() as Hex });
    return { txId: st.hash, height: st.height };
  }

  async refund(lockId: Hex): Promise<SubmitResult> {
    if (!isHex(lockId, 32)) throw new InvalidInputError("lockId", "expected 32-byte 0x-hex");
    const st = await this.send("refund", { kind: "refund", lockId: lockId.toLowerCase() as Hex });
    return { txId: st.hash, height: st.height };
  }

  async waitFinal(height: number, timeoutMs = DEFAULT_WAIT_FINAL_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const pollMs = Math.max(50, Math.floor((this.timing.blockTimeSec * 1000) / 2));
    for (;;) {
      const head = await this.head();
      if (head.finalizedHeight >= height) return;
      if (Date.now() + pollMs > deadline) {
        throw new LedgerError(this.name, RpcErrorCode.WAIT_TIMEOUT, `height ${height} not final after ${timeoutMs} ms (final: ${head.finalizedHeight})`, { height });
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  async close(): Promise<void> {
    await this.#sendTail;
    this.#client.close();
  }

  // --- sending ----------------------------------------------------------------------------

  /** Signs, submits and waits for inclusion; one send at a time per adapter. */
  private send(op: string, body: TxBody): Promise<Extract<TxStatus, { status: "committed" }>> {
    const run = this.#sendTail.then(() => this.sendNow(op, body));
    this.#sendTail = run.catch(() => undefined);
    return run;
  }

  private async sendNow(op: string, body: TxBody): Promise<Extract<TxStatus, { status: "committed" }>> {
    await this.connect();
    let hash: Hex | undefined;
    for (let attempt = 0; hash === undefined; attempt++) {
      this.#nonce ??= (await this.#client.getAccount(this.address)).pendingNonce;
      const tx = signTx(this.#signer, { chainId: this.chainId, nonce: this.#nonce, body });
      try {
        hash = await this.#client.submitTx(tx.bytes);
      } catch (err) {
        const staleNonce = err instanceof TxRejectedError && err.code === TxErrorCode.BAD_NONCE;
        if (staleNonce || !(err instanceof TxRejectedError)) this.#nonce = null; // re-read before the next attempt or send
        if (staleNonce && attempt === 0) continue;
        throw this.relabel(err, op);
      }
      this.#nonce += 1;
    }
    const st = await this.#client.waitTx(hash, this.#txTimeoutMs);
    switch (st.status) {
      case "committed":
        if (!st.result.ok) {
          throw new TxRejectedError(this.name, st.result.code as TxErrorCode, `${op} failed in block ${st.height}: ${st.result.message}`, { txId: hash, height: st.height, op });
        }
        return st;
      case "dropped":
        this.#nonce = null;
        throw new TxRejectedError(this.name, TxErrorCode.TX_DROPPED, `${op}: ${st.message}`, { txId: hash, op });
      default:
        throw new LedgerError(this.name, RpcErrorCode.TX_TIMEOUT, `${op}: tx ${hash} not included after ${this.#txTimeoutMs} ms; it may still be`, { txId: hash, op });
    }
  }

  private relabel(err: unknown, op: string): unknown {
    if (err instanceof TxRejectedError) return new TxRejectedError(this.name, err.code as TxErrorCode, `${op} refused: ${err.reason}`, { ...err.details, op });
    return err;
  }

  // --- mapping ----------------------------------------------------------------------------

  private toHtlcLock(lockId: Hex, r: LockRecord): HtlcLock {
    const base = { chain: this.name, lockId, sender: r.sender, receiver: r.receiver, asset: r.asset, amount: r.amount, hashlock: r.hashlock, timelock: r.timelock };
    switch (r.status) {
      case "claimed":
        return { ...base, status: "claimed", preimage: r.preimage! };
      case "refunded":
        return { ...base, status: "refunded" };
      case "locked":
        return { ...base, status: "locked" };
    }
  }

  private toLedgerEvent(e: ChainEvent, txId: Hex, height: number, index: number): LedgerEvent | undefined {
    switch (e.kind) {
      case "locked":
        return {
          kind: "locked",
          lock: { chain: this.name, lockId: e.lockId, sender: e.sender, receiver: e.receiver, asset: e.asset, amount: e.amount, hashlock: e.hashlock, timelock: e.timelock, status: "locked" },
          txId,
          height,
          index,
        };
      case "claimed":
        return { kind: "claimed", lockId: e.lockId, preimage: e.preimage, txId, height, index };
      case "refunded":
        return { kind: "refunded", lockId: e.lockId, txId, height, index };
      default:
        return undefined;
    }
  }

  private checkLockParams(p: LockParams): void {
    if (!isHex(p.receiver, 20)) throw new InvalidInputError("receiver", "expected a 20-byte 0x-hex address");
    if (typeof p.asset !== "string" || !ASSET_SYMBOL_RE.test(p.asset)) throw new InvalidInputError("asset", `invalid symbol ${JSON.stringify(p.asset)}`);
    if (typeof p.amount !== "bigint" || p.amount <= 0n) throw new InvalidInputError("amount", "must be a positive bigint");
    if (!isHex(p.hashlock, 32)) throw new InvalidInputError("hashlock", "expected 32-byte 0x-hex");
    if (!Number.isSafeInteger(p.timelock) || p.timelock <= 0) throw new InvalidInputError("timelock", "must be positive unix seconds");
  }

  private addAsset(symbol: string, decimals: number): void {
    this.#assets.set(symbol, Object.freeze({ symbol, decimals, id: symbol }));
  }

  private raiseFloor(height: number): void {
    if (height > this.#floorHeight) this.#floorHeight = height;
  }
}
