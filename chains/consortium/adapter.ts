/**
 * The consortium chain as a LedgerAdapter, for one key holder, over the node's gRPC API.
 *
 * Trust: the validator set (and chain id) given at construction, e.g. from genesis. From it
 * the adapter follows the chain header by header with the light client of
 * proofs/consortium/light-client.ts: each header must extend the last, name the set the
 * previous header committed to and carry a commit of more than 2/3 of that set's stake;
 * a header that changes the set (nextValidatorsHash) is followed with the new set, fetched
 * from the node by hash and re-hashed. Commit signatures are checked at each set change and
 * at the last header of each batch; the headers between are bound to them by prevHash
 * (proofs/consortium/light-client.ts verifyHeaderRun). Locks and events are VERIFIED: each answer comes
 * with a header, its commit and a Merkle proof; the header must be the one the light client
 * verified at that height and the proof must lead to its state / results root, else
 * VerificationError. A lock proof
 * may not anchor below a height this adapter already verified (no stale state). Balances,
 * heads and a sent tx's outcome are the node's word (they are not proofs of anything the
 * relayer pays on). The chain has instant finality: a committed block is final.
 *
 * Sends (lock/claim/refund) run one at a time with a locally tracked nonce, initialised
 * from the node's pending nonce and re-read after a BAD_NONCE refusal, a drop or a timeout.
 */
import { type Hex, isHex } from "../../proofs/hex.ts";
import { type ConsortiumLockBundle, makeConsortiumLockBundle } from "../../proofs/bundle.ts";
import { verifyEventProof, verifyLockAbsence, verifyLockProof } from "../../proofs/consortium/entry-proof.ts";
import { type Commit, verifyCommit } from "../../proofs/consortium/commit.ts";
import { type ChainEvent, resultsRoot, txRoot } from "../../proofs/consortium/results.ts";
import { type Header, hashHeader } from "../../proofs/consortium/header.ts";
import { LightClient, trustSet } from "../../proofs/consortium/light-client.ts";
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
import { ConsortiumClient, type NodeBlock, type TxStatus } from "./rpc/client.ts";
import { type ResumeOptions } from "./rpc/resume.ts";
import { type TxBody, signTxWith } from "./tx.ts";
import type { Secp256k1DigestSigner } from "../signer.ts";
import type { ReportsSendStats, SendStats } from "../send-stats.ts";

/** The account's key in this process, or a signer holding it elsewhere (another process, an HSM). */
export type ConsortiumAccount = { readonly privateKey: string } | { readonly signer: Secp256k1DigestSigner };

interface ConsortiumLedgerSettings {
  /** Ledger name used in errors and in returned locks, e.g. "consortium". */
  readonly name: string;
  /** Node gRPC endpoint, "127.0.0.1:<port>". */
  readonly endpoint: string;
  readonly chainId: number;
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

export type ConsortiumLedgerOptions = ConsortiumLedgerSettings & ConsortiumAccount;

/** A key held here, behind the same interface as a remote signer. */
function localSigner(privateKey: string): Secp256k1DigestSigner {
  const key = Signer.fromPrivateKey(privateKey);
  return { curve: "secp256k1", address: key.address, signDigest: async (digest) => key.sign(digest) };
}

/** One height of `subscribeEvents`: its verified HTLC events (often none) and its block time. */
export interface HeightEvents {
  readonly height: number;
  /** Block time, unix seconds. */
  readonly time: number;
  readonly events: readonly LedgerEvent[];
}

/** The event kinds `subscribeEvents` maps to LedgerEvents; the node filters out the rest. */
const HTLC_EVENT_KINDS = ["locked", "claimed", "refunded"] as const;

const DEFAULT_TX_TIMEOUT_MS = 30_000;
const DEFAULT_WAIT_FINAL_MS = 60_000;
/** Headers fetched concurrently while following the chain. */
const FOLLOW_BATCH = 64;
const VERIFIED_HASHES_KEPT = 4096;

export class ConsortiumLedger implements LedgerAdapter, ReportsSendStats {
  readonly name: string;
  readonly kind = "consortium" as const;
  readonly timing: LedgerTiming;
  readonly address: Hex;
  readonly chainId: number;
  readonly validatorSet: ValidatorSet;
  readonly #client: ConsortiumClient;
  readonly #signer: Secp256k1DigestSigner;
  readonly #txTimeoutMs: number;
  readonly #assets = new Map<string, AssetInfo>();
  #assetsLoaded: boolean;
  #connected: Promise<void> | null = null;
  #nonce: number | null = null;
  #nonceResyncs = 0;
  #sendTail: Promise<unknown> = Promise.resolve();
  /** Highest height this adapter has verified as final; later lock proofs may not anchor below it. */
  #floorHeight = 0;
  #lastHead: LedgerHead | null = null;
  readonly #lightClient: LightClient;
  /** Verified header hashes of recent heights (answers anchored there must match). */
  readonly #verifiedHashes = new Map<number, Hex>();
  #lastVerifiedHeader: Header | null = null;
  #syncTail: Promise<unknown> = Promise.resolve();

  constructor(opts: ConsortiumLedgerOptions) {
    if (!Number.isSafeInteger(opts.chainId) || opts.chainId <= 0) throw new InvalidInputError(`${opts.name}.chainId`, "must be a positive integer");
    if (!(opts.blockTimeSec > 0)) throw new InvalidInputError(`${opts.name}.blockTimeSec`, "must be positive");
    if (!(opts.clockSkewSec >= 0)) throw new InvalidInputError(`${opts.name}.clockSkewSec`, "must not be negative");
    this.name = opts.name;
    this.chainId = opts.chainId;
    this.#signer = "signer" in opts ? opts.signer : localSigner(opts.privateKey);
    this.address = this.#signer.address.toLowerCase() as Hex;
    try {
      this.validatorSet = makeValidatorSet(opts.validators);
    } catch (err) {
      throw new InvalidInputError(`${opts.name}.validators`, (err as Error).message);
    }
    this.#lightClient = new LightClient(trustSet(opts.chainId, 0, this.validatorSet));
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
    // A wrong trusted set shows at the first header: block 1 must be signed by it.
    if (status.height >= 1) await this.followTo(1);
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
    const header = await this.followTo(status.height);
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
      if (page.blocks.length) await this.followTo(page.blocks[page.blocks.length - 1]!.header.height);
      for (const block of page.blocks) {
        const h = block.header.height;
        if (h <= lastHeight || h > page.toHeight) throw new VerificationError(this.name, `events block ${h} out of order or range`);
        lastHeight = h;
        const validatorSet = this.anchorSet(block.header);
        for (const e of block.events) {
          const v = verifyEventProof({ chainId: this.chainId, validatorSet, header: block.header, commit: block.commit, ...e });
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

  /**
   * Every block from `fromHeight` on, in order and each exactly once, across dropped
   * connections and node restarts (ConsortiumClient.subscribeBlocks), each VERIFIED before it
   * is yielded: its header is the next one the light client accepts (commit of more than 2/3
   * of the set it follows) or the one it already verified at that height, its hash is the
   * header's, and its txs and outcomes hash to the header's txRoot and resultsRoot. A block
   * that fails ends the iteration with VerificationError. Break out (or abort `opts.signal`)
   * to stop; the stream is cancelled on the node.
   */
  async *subscribeBlocks(fromHeight: number, opts: ResumeOptions = {}): AsyncGenerator<NodeBlock, void, undefined> {
    if (!Number.isSafeInteger(fromHeight) || fromHeight < 1) throw new InvalidInputError("fromHeight", `expected a height >= 1, got ${fromHeight}`);
    await this.connect();
    for await (const block of this.#client.subscribeBlocks(fromHeight, opts)) {
      const h = block.header.height;
      if (block.hash !== hashHeader(block.header)) throw new VerificationError(this.name, `block ${h}: hash is not the header's`, { height: h });
      if (txRoot(block.txs) !== block.header.txRoot) throw new VerificationError(this.name, `block ${h}: txs do not hash to txRoot`, { height: h });
      if (resultsRoot(block.outcomes) !== block.header.resultsRoot) throw new VerificationError(this.name, `block ${h}: outcomes do not hash to resultsRoot`, { height: h });
      await this.acceptHeader(block.header, block.commit);
      yield block;
    }
  }

  /**
   * For every height from `fromHeight` on, in order and each exactly once (reconnecting like
   * subscribeBlocks), its Locked / Claimed / Refunded events, each VERIFIED as `events` does
   * (proof against the results root of a header the light client accepted). Heights without
   * such events are yielded too, with none, so a caller can keep a cursor.
   */
  async *subscribeEvents(fromHeight: number, opts: ResumeOptions = {}): AsyncGenerator<HeightEvents, void, undefined> {
    if (!Number.isSafeInteger(fromHeight) || fromHeight < 1) throw new InvalidInputError("fromHeight", `expected a height >= 1, got ${fromHeight}`);
    await this.connect();
    for await (const block of this.#client.subscribeEvents(fromHeight, { ...opts, kinds: HTLC_EVENT_KINDS })) {
      const h = block.header.height;
      await this.acceptHeader(block.header, block.commit);
      const validatorSet = this.anchorSet(block.header);
      const events: LedgerEvent[] = [];
      for (const e of block.events) {
        const v = verifyEventProof({ chainId: this.chainId, validatorSet, header: block.header, commit: block.commit, ...e });
        if (!v.ok) throw new VerificationError(this.name, `event at height ${h}: ${v.reason}`, { height: h, txIndex: e.txIndex });
        const ev = this.toLedgerEvent(v.event, v.txHash, h, e.eventIndex);
        if (ev) events.push(ev);
      }
      yield { height: h, time: Math.floor(block.header.timeMs / 1000), events };
    }
  }

  async getLock(lockId: Hex): Promise<VerifiedLock | null> {
    if (!isHex(lockId, 32)) throw new InvalidInputError("lockId", "expected 32-byte 0x-hex");
    const id = lockId.toLowerCase() as Hex;
    await this.connect();
    const answer = await this.#client.getLock(id);
    if (!answer) throw new VerificationError(this.name, `lock ${id}: the node proved neither the lock nor its absence`, { lockId: id });
    await this.followTo(answer.header.height);
    const validatorSet = this.anchorSet(answer.header);
    if (!answer.found) {
      // "No such lock" must be proven too: its key's path in the state tree of a final block ends empty or at another key's leaf.
      const a = verifyLockAbsence({ chainId: this.chainId, validatorSet, header: answer.header, commit: answer.commit, lockId: id, absence: answer.absence });
      if (!a.ok) throw new VerificationError(this.name, `absence of lock ${id}: ${a.reason}`, { lockId: id });
      if (a.height < this.#floorHeight) {
        throw new VerificationError(this.name, `absence of lock ${id} proven at height ${a.height}, below already final height ${this.#floorHeight}`, { lockId: id });
      }
      this.raiseFloor(a.height);
      return null;
    }
    const v = verifyLockProof({ chainId: this.chainId, validatorSet, header: answer.header, commit: answer.commit, lockId: id, value: answer.value, proof: answer.proof });
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
    // The set that signed that height (it changes with bonds and slashes), as getLock uses.
    await this.followTo(answer.header.height);
    const validatorSet = this.anchorSet(answer.header);
    const v = verifyLockProof({ chainId: this.chainId, validatorSet, header: answer.header, commit: answer.commit, lockId: id, value: answer.value, proof: answer.proof });
    if (!v.ok) throw new VerificationError(this.name, `lock ${id}: ${v.reason}`, { lockId: id });
    if (v.height < this.#floorHeight) throw new VerificationError(this.name, `lock ${id} proven at height ${v.height}, below already final height ${this.#floorHeight}`, { lockId: id });
    this.raiseFloor(v.height);
    return makeConsortiumLockBundle({ chain: this.name, chainId: this.chainId, lockId: id, header: answer.header, commit: answer.commit, validatorSet, value: answer.value, proof: answer.proof });
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

  /** Nothing is rebroadcast here: a transaction is either committed, dropped (then resent by the caller) or timed out. */
  sendStats(): SendStats {
    return { nonceResyncs: this.#nonceResyncs, rebroadcasts: 0 };
  }

  #resyncNonce(): void {
    this.#nonce = null;
    this.#nonceResyncs++;
  }

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
      const tx = await signTxWith(this.#signer, { chainId: this.chainId, nonce: this.#nonce, body });
      try {
        hash = await this.#client.submitTx(tx.bytes);
      } catch (err) {
        const staleNonce = err instanceof TxRejectedError && err.code === TxErrorCode.BAD_NONCE;
        if (staleNonce || !(err instanceof TxRejectedError)) this.#resyncNonce(); // re-read before the next attempt or send
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
        this.#resyncNonce();
        throw new TxRejectedError(this.name, TxErrorCode.TX_DROPPED, `${op}: ${st.message}`, { txId: hash, op });
      default:
        // Re-read the nonce: if this tx was lost, a node would queue (not refuse) the next
        // nonce, and the next send would wait out the queue instead of reusing this one.
        this.#resyncNonce();
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

  // --- following the validator set -----------------------------------------------------------

  /**
   * The validator set this adapter verified for `height` (following the chain from its
   * trusted set), e.g. as the trust anchor of a proof bundle for a header of that height;
   * undefined for heights it has not reached yet.
   */
  verifiedValidatorSetAt(height: number): ValidatorSet | undefined {
    return this.#lightClient.setAt(height);
  }

  /**
   * Runs the light client up to `height` (one header at a time, fetched in parallel batches),
   * returning the verified header at `height` or above. Serialized: one follower per adapter.
   */
  private followTo(height: number): Promise<Header> {
    const run = this.#syncTail.then(() => this.followNow(height));
    this.#syncTail = run.catch(() => undefined);
    return run;
  }

  private async followNow(height: number): Promise<Header> {
    const lc = this.#lightClient;
    while (lc.height < height) {
      const from = lc.height + 1;
      const to = Math.min(height, from + FOLLOW_BATCH - 1);
      const blocks = await Promise.all(Array.from({ length: to - from + 1 }, (_, i) => this.#client.getBlock(from + i)));
      const run = blocks.map((block, i) => {
        const h = from + i;
        if (!block) throw new LedgerError(this.name, RpcErrorCode.NODE_BEHIND, `node serves no block at height ${h}`, { height: h });
        if (block.header.height !== h) throw new VerificationError(this.name, `asked for block ${h}, got ${block.header.height}`, { height: h });
        return { header: block.header, commit: block.commit };
      });
      // New sets named by this batch, fetched by hash (the light client re-hashes them).
      const sets = new Map<Hex, ValidatorSet>();
      for (const { header } of run) {
        if (header.nextValidatorsHash === header.validatorsHash || sets.has(header.nextValidatorsHash)) continue;
        const set = await this.#client.getValidatorSet(header.nextValidatorsHash);
        if (!set) throw new VerificationError(this.name, `block ${header.height} changes the validator set but the node serves no set with hash ${header.nextValidatorsHash}`, { height: header.height });
        sets.set(header.nextValidatorsHash, set);
      }
      // Links checked for every header, commits at each set change and at the batch's last header.
      const r = lc.updateRun(run, (hash) => sets.get(hash));
      if (!r.ok) throw new VerificationError(this.name, `blocks ${from}..${to}: ${r.reason}`, { fromHeight: from, toHeight: to });
      for (const step of r.verified) this.rememberVerified(step.height, step.hash);
      this.#lastVerifiedHeader = run[run.length - 1]!.header;
    }
    return this.#lastVerifiedHeader!;
  }

  private rememberVerified(height: number, hash: Hex): void {
    this.#verifiedHashes.set(height, hash);
    if (this.#verifiedHashes.size > VERIFIED_HASHES_KEPT) this.#verifiedHashes.delete(this.#verifiedHashes.keys().next().value!);
  }

  /**
   * Takes a streamed header only if the light client accepts it: the next header (each
   * commit checked: the consumer acts on it before any later header could vouch for it),
   * after following the chain up to it if the stream starts above the light client, or a
   * header it already passed, which must be the one verified there with a commit of that
   * height's set. Serialized with followTo.
   */
  private acceptHeader(header: Header, commit: Commit): Promise<void> {
    const run = this.#syncTail.then(() => this.acceptHeaderNow(header, commit));
    this.#syncTail = run.catch(() => undefined);
    return run;
  }

  private async acceptHeaderNow(header: Header, commit: Commit): Promise<void> {
    const lc = this.#lightClient;
    const h = header.height;
    if (h > lc.height + 1) await this.followNow(h - 1);
    if (h === lc.height + 1) {
      let nextSet: ValidatorSet | undefined;
      if (header.nextValidatorsHash !== header.validatorsHash) {
        nextSet = (await this.#client.getValidatorSet(header.nextValidatorsHash)) ?? undefined;
        if (!nextSet) throw new VerificationError(this.name, `block ${h} changes the validator set but the node serves no set with hash ${header.nextValidatorsHash}`, { height: h });
      }
      const r = lc.update(header, commit, nextSet);
      if (!r.ok) throw new VerificationError(this.name, `block ${h}: ${r.reason}`, { height: h });
      this.rememberVerified(h, r.state.headerHash!);
      this.#lastVerifiedHeader = header;
    } else {
      const set = this.anchorSet(header);
      const v = verifyCommit(header, commit, set);
      if (!v.ok) throw new VerificationError(this.name, `commit of ${h}: ${v.reason}`, { height: h });
    }
    this.raiseFloor(h);
  }

  /**
   * The set that signed `header`, once the light client has passed its height; the header
   * must be the one verified there (when still remembered) or its commit is checked against
   * that set by the caller's proof verification.
   */
  private anchorSet(header: Header): ValidatorSet {
    const known = this.#verifiedHashes.get(header.height);
    if (known !== undefined && known !== hashHeader(header)) {
      throw new VerificationError(this.name, `header ${header.height} differs from the one verified at that height`, { height: header.height });
    }
    const set = this.#lightClient.setAt(header.height);
    if (!set) throw new VerificationError(this.name, `no verified validator set for height ${header.height}`, { height: header.height });
    return set;
  }

  private raiseFloor(height: number): void {
    if (height > this.#floorHeight) this.#floorHeight = height;
  }
}
