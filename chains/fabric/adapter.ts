/**
 * LedgerAdapter for a Fabric channel running the Isthmus chaincode, as seen by one client
 * identity, using only @hyperledger/fabric-gateway.
 *
 * Finality: a block is final once committed (Fabric has no forks); finalizedHeight is the
 * last block number. Ledger time: the chaincode's time is the signed proposal's timestamp,
 * which every endorser bounds to ±TIME_BOUND_SEC of its clock, so `head().finalizedTime` is
 * the timestamp an endorser just accepted (an evaluation of `Now`), and clockSkewSec is that
 * bound.
 * Trust: getLock is a light client of the channel ("block-proof"): from the trusted channel
 * config block it follows every block (data hash, previous-hash link, orderer signatures
 * satisfying BlockValidation, proofs/fabric), notes which VALID transaction last wrote each
 * lock, and answers from that transaction's block, re-verified as a `fabric-lock` proof
 * bundle (endorsements against the Endorsement policy, the write in the read-write set).
 * The peer's own answers about locks are never used; a lock no verified block writes does
 * not exist. Balances, heads and Now are the peer's word. Every block `events()` reads must
 * carry a valid signature of the trusted orderer identity, its data hash must match and it
 * must link to its predecessor; lock ids are recomputed from the lock's fields;
 * sha256(preimage) is checked.
 * Watching: `eventsFrom` reads the chaincode's events through the gateway's ChaincodeEvents
 * stream (getChaincodeEvents with a checkpoint the caller persists), and checks each one
 * against its block, verified as above: the transaction must be VALID in that block and carry
 * exactly that event. `events(from, to)` scans verified blocks (rescans and one-off reads).
 * Sends: endorse once (the tx id is known before anything is sent), submit, then wait for
 * the commit status with a deadline. If submit or the status wait fails, the status of that
 * tx id is asked again (CommitStatus) before the same signed envelope is resubmitted, so a
 * transaction is never endorsed twice for one call unless it was committed invalid by an
 * MVCC/phantom conflict.
 */
import { common, gateway as gwproto, peer } from "@hyperledger/fabric-protos";
import { EndorseError, GatewayError, type Contract, type Network, type Signer, type Transaction } from "@hyperledger/fabric-gateway";
import * as grpc from "@grpc/grpc-js";
import { createHash, type KeyObject, createPrivateKey } from "node:crypto";
import { InvalidInputError, IsthmusError, LedgerError, VerificationError } from "../errors.ts";
import type {
  AssetInfo,
  CheckpointedEvent,
  EventCheckpoint,
  EventStreamSource,
  Hex,
  HtlcLock,
  LedgerAdapter,
  LedgerEvent,
  LedgerHead,
  LedgerKind,
  LedgerTiming,
  LockParams,
  LockResult,
  SubmitResult,
  VerifiedLock,
} from "../ledger.ts";
import { decodeBlockTxs, verifyBlock, type BlockTx } from "./block.ts";
import { ChaincodeEventStream } from "./event-stream.ts";
import { lockIdOf, TIME_BOUND_SEC } from "./chaincode/src/htlc.ts";
import type { P256DigestSigner } from "../signer.ts";
import { connectGateway, DEFAULT_DEADLINES, type Deadlines, type GatewayConnection } from "./gateway-client.ts";
import { fabricAddress, publicKeyOf } from "./identity.ts";
import { serializeIdentity } from "./msp.ts";
import { blockHeaderHash, codeName } from "./protoutil.ts";
import { type BlockHeaderFields, type ChannelConfig, blockHeaderHash as proofHeaderHash, checkFabricBlock, lockWritesOf, readChannelConfig, verifyFabricLockProof } from "../../proofs/fabric/index.ts";
import { type FabricLockBundle, makeFabricLockBundle } from "../../proofs/bundle.ts";

export const FabricErrorCode = {
  ENDORSE_FAILED: "ENDORSE_FAILED",
  SUBMIT_FAILED: "SUBMIT_FAILED",
  TX_INVALID: "TX_INVALID",
  TIMEOUT: "TIMEOUT",
  UNAVAILABLE: "UNAVAILABLE",
  CLOSED: "CLOSED",
  QUERY_FAILED: "QUERY_FAILED",
} as const;

/** The identity's key in this process (PEM), or a signer holding it elsewhere (another process, an HSM). */
export type FabricAccount = { readonly keyPem: string } | { readonly signer: P256DigestSigner };

export type FabricLedgerOptions = FabricLedgerSettings & FabricAccount;

interface FabricLedgerSettings {
  /** Ledger name in routes, events and errors, e.g. "fabric". */
  readonly name: string;
  /** The peer's gateway endpoint, host:port. */
  readonly gatewayAddress: string;
  readonly channel: string;
  readonly chaincode: string;
  /** This adapter's client identity. */
  readonly mspId: string;
  readonly certPem: string;
  /** The orderer's certificate (trusted, e.g. from the channel's genesis): block signatures are checked with it. */
  readonly ordererCertPem: string;
  /**
   * The channel's config block (serialized common.Block), trusted: its MSPs and policies
   * judge every block and lock getLock relies on. Without it the adapter trusts the block 0
   * the peer first serves (trust on first use) and says so in its verification errors.
   */
  readonly channelConfigBlock?: Uint8Array;
  /** Default: KRW with 2 decimals (the chaincode's asset id is the symbol). */
  readonly assets?: readonly AssetInfo[];
  /** Expected seconds per block (orderer batch timeout plus commit); default 1. */
  readonly blockTimeSec?: number;
  /** Default TIME_BOUND_SEC (30), the chaincode's proposal-timestamp bound. */
  readonly clockSkewSec?: number;
  readonly deadlines?: Partial<Deadlines>;
  /** Submit attempts of one signed transaction, each preceded by a commit-status check; default 3. */
  readonly submitAttempts?: number;
  /** Re-endorsements after an MVCC/phantom conflict; default 3. */
  readonly conflictRetries?: number;
}

const RETRY_CODES = new Set([peer.TxValidationCode.MVCC_READ_CONFLICT, peer.TxValidationCode.PHANTOM_READ_CONFLICT]);
const utf8 = (b: Uint8Array) => Buffer.from(b).toString("utf8");
const HEX32 = /^0x[0-9a-f]{64}$/;
const ADDR = /^0x[0-9a-f]{40}$/;

interface StoredLockJson {
  lockId: string;
  sender: string;
  receiver: string;
  asset: string;
  amount: string;
  hashlock: string;
  timelock: number;
  status: "locked" | "claimed" | "refunded";
  preimage?: string;
}

export class FabricLedger implements LedgerAdapter, EventStreamSource {
  readonly name: string;
  readonly kind: LedgerKind = "fabric";
  readonly timing: LedgerTiming;
  readonly address: Hex;
  readonly #opts: FabricLedgerOptions;
  readonly #deadlines: Deadlines;
  readonly #conn: GatewayConnection;
  readonly #network: Network;
  readonly #contract: Contract;
  readonly #qscc: Contract;
  readonly #assets: readonly AssetInfo[];
  readonly #ordererKey: KeyObject;
  readonly #stream: ChaincodeEventStream;
  /** Header hashes of blocks whose chain and signature were verified, by number. */
  readonly #verified = new Map<number, Buffer>();
  #closed = false;
  /** The light client's state: the trusted config, the verified headers from it, the latest write of each lock. */
  #trust: Promise<{ config: ChannelConfig; configBytes: Uint8Array; pinnedBy: string }> | null = null;
  readonly #headers: BlockHeaderFields[] = [];
  readonly #headerHashes: Uint8Array[] = [];
  readonly #lockWrites = new Map<string, { height: number; txIndex: number }>();
  #following: Promise<void> = Promise.resolve();

  constructor(opts: FabricLedgerOptions) {
    this.#opts = opts;
    this.name = opts.name;
    const clockSkewSec = opts.clockSkewSec ?? TIME_BOUND_SEC;
    const blockTimeSec = opts.blockTimeSec ?? 1;
    this.timing = { blockTimeSec, finalitySec: blockTimeSec, clockSkewSec };
    this.#deadlines = { ...DEFAULT_DEADLINES, ...opts.deadlines };
    let account: { privateKey: KeyObject } | { signer: P256DigestSigner };
    try {
      account = "signer" in opts ? { signer: opts.signer } : { privateKey: createPrivateKey(opts.keyPem) };
      this.#ordererKey = publicKeyOf(opts.ordererCertPem);
      this.address = fabricAddress(opts.mspId, opts.certPem);
    } catch (err) {
      throw new InvalidInputError(`${opts.name}: identity`, `cannot read the certificate or key: ${(err as Error).message}`);
    }
    this.#conn = connectGateway(opts.gatewayAddress, { mspId: opts.mspId, certPem: opts.certPem, ...account }, this.#deadlines);
    this.#network = this.#conn.gateway.getNetwork(opts.channel);
    this.#contract = this.#network.getContract(opts.chaincode);
    this.#qscc = this.#network.getContract("qscc");
    this.#assets = opts.assets ?? [{ symbol: "KRW", decimals: 2, id: "KRW" }];
    this.#stream = new ChaincodeEventStream({ network: this.#network, chaincode: opts.chaincode, streamMs: this.#deadlines.eventStreamMs });
  }

  assets(): readonly AssetInfo[] {
    return this.#assets;
  }

  asset(symbol: string): AssetInfo {
    const a = this.#assets.find((x) => x.symbol === symbol);
    if (!a) throw new InvalidInputError("asset", `${this.name} has no asset "${symbol}" (has ${this.#assets.map((x) => x.symbol).join(", ")})`, { chain: this.name, symbol });
    return a;
  }

  #symbolOf(id: string): string {
    return this.#assets.find((a) => a.id === id)?.symbol ?? id;
  }

  // ------------------------------------------------------------ reads

  async #evaluate(c: Contract, fn: string, args: string[]): Promise<Uint8Array> {
    this.#checkOpen();
    try {
      return await c.evaluateTransaction(fn, ...args);
    } catch (err) {
      throw this.#mapError(err, `evaluate ${fn}`);
    }
  }

  async #chainInfo(): Promise<{ height: number; currentHash: Buffer }> {
    const info = common.BlockchainInfo.deserializeBinary(await this.#evaluate(this.#qscc, "GetChainInfo", [this.#opts.channel]));
    return { height: info.getHeight(), currentHash: Buffer.from(info.getCurrentblockhash_asU8()) };
  }

  async head(): Promise<LedgerHead> {
    const info = await this.#chainInfo();
    const now = Number(utf8(await this.#evaluate(this.#contract, "Now", [])));
    return { finalizedHeight: info.height - 1, finalizedTime: now, headHeight: info.height - 1 };
  }

  async #block(n: number): Promise<common.Block> {
    return common.Block.deserializeBinary(await this.#evaluate(this.#qscc, "GetBlockByNumber", [this.#opts.channel, String(n)]));
  }

  /** Fetches block n and checks its data hash, orderer signature and link to block n-1. */
  async #verifiedBlock(n: number): Promise<common.Block> {
    const b = await this.#block(n);
    if (b.getHeader()?.getNumber() !== n) throw new VerificationError(this.name, `asked for block ${n}, got ${b.getHeader()?.getNumber()}`);
    const r = verifyBlock(b, null, this.#ordererKey);
    if (!r.ok) throw new VerificationError(this.name, `block ${n}: ${r.reason}`, { height: n });
    if (n > 0) {
      let prevHash = this.#verified.get(n - 1);
      if (!prevHash) {
        const prev = await this.#block(n - 1);
        const pr = verifyBlock(prev, null, this.#ordererKey);
        if (!pr.ok) throw new VerificationError(this.name, `block ${n - 1}: ${pr.reason}`, { height: n - 1 });
        prevHash = blockHeaderHash(prev.getHeader()!);
      }
      if (!prevHash.equals(Buffer.from(b.getHeader()!.getPreviousHash_asU8()))) {
        throw new VerificationError(this.name, `block ${n} does not link to block ${n - 1}`, { height: n });
      }
    }
    this.#verified.set(n, blockHeaderHash(b.getHeader()!));
    if (this.#verified.size > 1024) this.#verified.delete(this.#verified.keys().next().value!);
    return b;
  }

  async events(fromHeight: number, toHeight: number): Promise<LedgerEvent[]> {
    if (!Number.isSafeInteger(fromHeight) || !Number.isSafeInteger(toHeight) || fromHeight < 0 || toHeight < fromHeight - 1) {
      throw new InvalidInputError("events range", `[${fromHeight}, ${toHeight}] is not a valid range`);
    }
    const out: LedgerEvent[] = [];
    for (let n = fromHeight; n <= toHeight; n++) {
      const b = await this.#verifiedBlock(n);
      decodeBlockTxs(b).forEach((t, index) => {
        if (t.code !== peer.TxValidationCode.VALID || t.chaincodeId !== this.#opts.chaincode || !t.event) return;
        const ev = this.#toLedgerEvent(t.event.getEventName(), utf8(t.event.getPayload_asU8()), `0x${t.txId}` as Hex, n, index);
        if (ev) out.push(ev);
      });
    }
    return out;
  }

  async eventsFrom(from: EventCheckpoint, toHeight: number): Promise<{ events: CheckpointedEvent[]; next: EventCheckpoint }> {
    const okFrom = Number.isSafeInteger(from.block) && from.block >= 0 && (from.afterTxId === null || /^[0-9a-f]{64}$/.test(from.afterTxId));
    if (!okFrom || !Number.isSafeInteger(toHeight)) {
      throw new InvalidInputError("event checkpoint", `${JSON.stringify(from)} up to ${toHeight} is not a valid position (block >= 0, afterTxId a hex tx id or null)`);
    }
    this.#checkOpen();
    let raw;
    try {
      raw = await this.#stream.take(from, toHeight);
    } catch (err) {
      throw this.#mapError(err, "chaincode events");
    }
    const events: CheckpointedEvent[] = [];
    let next = from;
    let block = null as { n: number; txs: BlockTx[] } | null;
    for (const ev of raw) {
      const n = Number(ev.blockNumber);
      if (block?.n !== n) block = { n, txs: decodeBlockTxs(await this.#verifiedBlock(n)) };
      // The stream is the peer's word; the signed block is the evidence.
      const index = block.txs.findIndex((t) => t.txId === ev.transactionId);
      const tx = block.txs[index];
      const matches =
        tx !== undefined &&
        tx.code === peer.TxValidationCode.VALID &&
        tx.chaincodeId === this.#opts.chaincode &&
        tx.event !== null &&
        tx.event.getEventName() === ev.eventName &&
        Buffer.from(tx.event.getPayload_asU8()).equals(Buffer.from(ev.payload));
      if (!matches) {
        throw new VerificationError(this.name, `chaincode event ${ev.eventName} of tx ${ev.transactionId} is not a valid transaction's event in block ${n}`, {
          height: n,
          txId: ev.transactionId,
        });
      }
      next = { block: n, afterTxId: ev.transactionId };
      const le = this.#toLedgerEvent(ev.eventName, utf8(ev.payload), `0x${ev.transactionId}` as Hex, n, index);
      if (le) events.push({ event: le, next });
    }
    return { events, next };
  }

  #toLedgerEvent(name: string, payload: string, txId: Hex, height: number, index: number): LedgerEvent | null {
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(payload) as Record<string, unknown>;
    } catch {
      return null;
    }
    if (name === "Locked") {
      const lock = this.#toLock(j as unknown as StoredLockJson);
      if (lock.status !== "locked") return null;
      return { kind: "locked", lock, txId, height, index };
    }
    if (name === "Claimed" && HEX32.test(String(j.lockId)) && HEX32.test(String(j.preimage))) {
      return { kind: "claimed", lockId: j.lockId as Hex, preimage: j.preimage as Hex, txId, height, index };
    }
    if (name === "Refunded" && HEX32.test(String(j.lockId))) return { kind: "refunded", lockId: j.lockId as Hex, txId, height, index };
    return null;
  }

  /** Validates a lock as the chaincode stores it; the id must be the hash of its fields. */
  #toLock(j: StoredLockJson): HtlcLock {
    const ok =
      HEX32.test(j.lockId) && ADDR.test(j.sender) && ADDR.test(j.receiver) && HEX32.test(j.hashlock) && /^[0-9]+$/.test(j.amount) && Number.isSafeInteger(j.timelock);
    if (!ok) throw new VerificationError(this.name, "malformed lock record", { lockId: j.lockId });
    const recomputed = lockIdOf(j.sender, j.receiver, j.asset, BigInt(j.amount), j.hashlock, j.timelock);
    if (recomputed !== j.lockId) throw new VerificationError(this.name, "lock id does not match the lock's fields", { lockId: j.lockId, recomputed });
    const base = {
      chain: this.name,
      lockId: j.lockId as Hex,
      sender: j.sender as Hex,
      receiver: j.receiver as Hex,
      asset: this.#symbolOf(j.asset),
      amount: BigInt(j.amount),
      hashlock: j.hashlock as Hex,
      timelock: j.timelock,
    };
    if (j.status === "claimed") {
      const pre = j.preimage ?? "";
      if (!HEX32.test(pre) || "0x" + createHash("sha256").update(Buffer.from(pre.slice(2), "hex")).digest("hex") !== j.hashlock) {
        throw new VerificationError(this.name, "claimed lock's preimage does not match its hashlock", { lockId: j.lockId });
      }
      return { ...base, status: "claimed", preimage: pre as Hex };
    }
    if (j.status === "refunded") return { ...base, status: "refunded" };
    return { ...base, status: "locked" };
  }

  async getLock(lockId: Hex): Promise<VerifiedLock | null> {
    const proven = await this.#proveLatestWrite(lockId);
    if (!proven) return null;
    const { preimage, amount, ...l } = proven.lock;
    const json: StoredLockJson = { ...l, amount: amount.toString(), ...(preimage ? { preimage } : {}) };
    return { lock: this.#toLock(json), verified: { kind: "block-proof", height: proven.height, blockHash: proven.blockHash } };
  }

  /**
   * A self-contained `fabric-lock` proof bundle (proofs/bundle.ts) of the latest write of
   * lock `lockId`, from the trusted config block; null when no verified block writes it.
   */
  async proveLock(lockId: Hex): Promise<FabricLockBundle | null> {
    return (await this.#proveLatestWrite(lockId))?.bundle ?? null;
  }

  async #proveLatestWrite(lockId: Hex) {
    if (!HEX32.test(lockId)) throw new InvalidInputError("lockId", `"${lockId}" is not 32 bytes of lower-case 0x hex`);
    const trust = await this.#channelTrust();
    const info = await this.#chainInfo();
    await this.#followTo(info.height - 1);
    const at = this.#lockWrites.get(lockId);
    if (!at) return null;
    const block = await this.#evaluate(this.#qscc, "GetBlockByNumber", [this.#opts.channel, String(at.height)]);
    const base = trust.config.blockNumber;
    const headers = this.#headers.slice(1, at.height - base);
    const r = verifyFabricLockProof({ config: trust.config, chaincode: this.#opts.chaincode, lockId, block, txIndex: at.txIndex, headers });
    if (!r.ok) throw new VerificationError(this.name, `lock ${lockId} in block ${at.height}: ${r.reason}${trust.pinnedBy}`, { lockId, height: at.height });
    const bundle = makeFabricLockBundle({ chain: this.name, channel: this.#opts.channel, chaincode: this.#opts.chaincode, lockId, configBlock: trust.configBytes, headers, block, txIndex: at.txIndex });
    return { lock: r.lock, height: r.height, blockHash: r.blockHash as Hex, bundle };
  }

  /** The trusted channel config: the configured block, else the peer's block 0 on first use. */
  #channelTrust(): Promise<{ config: ChannelConfig; configBytes: Uint8Array; pinnedBy: string }> {
    this.#trust ??= (async () => {
      const configured = this.#opts.channelConfigBlock;
      const configBytes = configured ?? (await this.#evaluate(this.#qscc, "GetBlockByNumber", [this.#opts.channel, "0"]));
      const pinnedBy = configured ? "" : " (channel config trusted on first use from the peer)";
      const r = readChannelConfig(configBytes);
      if (!r.ok) throw new VerificationError(this.name, `channel config block: ${r.reason}${pinnedBy}`);
      if (r.config.channel !== this.#opts.channel) throw new VerificationError(this.name, `channel config block is for channel ${r.config.channel}, not ${this.#opts.channel}`);
      const cb = common.Block.deserializeBinary(configBytes).getHeader()!;
      this.#headers.push({ number: cb.getNumber(), previousHash: cb.getPreviousHash_asU8(), dataHash: cb.getDataHash_asU8() });
      this.#headerHashes.push(r.config.blockHash);
      return { config: r.config, configBytes, pinnedBy };
    })();
    this.#trust.catch(() => (this.#trust = null));
    return this.#trust;
  }

  /** Verifies every block after the last verified one up to `height`, noting each lock's latest write. One follower at a time. */
  #followTo(height: number): Promise<void> {
    const run = this.#following.then(async () => {
      const { config, pinnedBy } = await this.#channelTrust();
      for (let n = config.blockNumber + this.#headers.length; n <= height; n++) {
        const bytes = await this.#evaluate(this.#qscc, "GetBlockByNumber", [this.#opts.channel, String(n)]);
        const prev = { number: n - 1, hash: this.#headerHashes.at(-1)! };
        const c = checkFabricBlock(bytes, prev, config, Date.now());
        if (!c.ok) throw new VerificationError(this.name, `${c.reason}${pinnedBy}`, { height: n });
        this.#headers.push(c.header);
        this.#headerHashes.push(proofHeaderHash(c.header));
        for (const w of lockWritesOf(c.block, this.#opts.chaincode)) this.#lockWrites.set(w.lockId, { height: n, txIndex: w.txIndex });
      }
    });
    this.#following = run.catch(() => undefined);
    return run;
  }

  lockIdFor(params: LockParams, sender: Hex = this.address): Hex {
    this.#checkLockParams(params);
    return lockIdOf(sender, params.receiver, this.asset(params.asset).id, params.amount, params.hashlock, params.timelock) as Hex;
  }

  async balance(asset: string, owner: Hex = this.address): Promise<bigint> {
    const a = this.asset(asset);
    return BigInt(utf8(await this.#evaluate(this.#contract, "BalanceOf", [a.id, owner])));
  }

  // ------------------------------------------------------------ writes

  async lock(params: LockParams): Promise<LockResult> {
    this.#checkLockParams(params);
    const a = this.asset(params.asset);
    const r = await this.#send("lock", "Lock", [params.receiver, a.id, params.amount.toString(), params.hashlock, String(params.timelock)]);
    return { txId: r.txId, height: r.height, lockId: utf8(r.result) as Hex };
  }

  async claim(lockId: Hex, preimage: Hex): Promise<SubmitResult> {
    if (!HEX32.test(lockId) || !HEX32.test(preimage)) throw new InvalidInputError("claim", "lockId and preimage must be 32 bytes of lower-case 0x hex");
    const r = await this.#send("claim", "Claim", [lockId, preimage]);
    return { txId: r.txId, height: r.height };
  }

  async refund(lockId: Hex): Promise<SubmitResult> {
    if (!HEX32.test(lockId)) throw new InvalidInputError("lockId", `"${lockId}" is not 32 bytes of lower-case 0x hex`);
    const r = await this.#send("refund", "Refund", [lockId]);
    return { txId: r.txId, height: r.height };
  }

  /**
   * Mints `amount` of `asset` to `to`; only an identity with the attribute
   * isthmus.role=issuer may (the devnet's issuer).
   */
  async mint(asset: string, to: Hex, amount: bigint): Promise<SubmitResult> {
    const r = await this.#send("mint", "Mint", [this.asset(asset).id, to, amount.toString()]);
    return { txId: r.txId, height: r.height };
  }

  async transfer(asset: string, to: Hex, amount: bigint): Promise<SubmitResult> {
    const r = await this.#send("transfer", "Transfer", [this.asset(asset).id, to, amount.toString()]);
    return { txId: r.txId, height: r.height };
  }

  async #endorse(fn: string, args: string[]): Promise<Transaction> {
    for (let attempt = 0; ; attempt++) {
      this.#checkOpen();
      try {
        return await this.#contract.newProposal(fn, { arguments: args }).endorse();
      } catch (err) {
        const transient = err instanceof GatewayError && (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED);
        if (!transient || attempt >= 4) throw this.#mapError(err, `endorse ${fn}`);
        await sleep(250 * (attempt + 1));
      }
    }
  }

  /** Commit status of `txId` (the gateway's CommitStatus), or null when not committed within `deadlineMs`. */
  async #statusOf(txId: string, deadlineMs: number): Promise<{ code: number; block: number } | null> {
    const req = new gwproto.CommitStatusRequest();
    req.setTransactionId(txId);
    req.setChannelId(this.#opts.channel);
    req.setIdentity(serializeIdentity(this.#opts.mspId, this.#opts.certPem));
    const signed = new gwproto.SignedCommitStatusRequest();
    signed.setRequest(req.serializeBinary());
    try {
      const st = await this.#conn.gateway.newCommit(signed.serializeBinary()).getStatus({ deadline: Date.now() + deadlineMs });
      return { code: st.code, block: Number(st.blockNumber) };
    } catch (err) {
      if (err instanceof GatewayError && (err.code === grpc.status.DEADLINE_EXCEEDED || err.code === grpc.status.UNAVAILABLE)) return null;
      throw this.#mapError(err, "commit status");
    }
  }

  async #send(op: string, fn: string, args: string[]): Promise<{ result: Uint8Array; txId: Hex; height: number }> {
    const attempts = this.#opts.submitAttempts ?? 3;
    for (let conflict = 0; ; conflict++) {
      const tx = await this.#endorse(fn, args);
      const txId = tx.getTransactionId();
      let status: { code: number; block: number } | null = null;
      let lastErr: unknown;
      for (let attempt = 0; attempt < attempts && !status; attempt++) {
        // before any resubmission: has the first submission been committed?
        if (attempt > 0) {
          await sleep(500 * attempt);
          status = await this.#statusOf(txId, 2_000);
        }
        if (status) break;
        try {
          const submitted = await tx.submit();
          const st = await submitted.getStatus();
          status = { code: st.code, block: Number(st.blockNumber) };
        } catch (err) {
          lastErr = err;
          if (this.#closed) throw new LedgerError(this.name, FabricErrorCode.CLOSED, "adapter is closed");
        }
      }
      if (!status) status = await this.#statusOf(txId, this.#deadlines.commitStatusMs);
      if (!status) {
        throw new LedgerError(this.name, FabricErrorCode.TIMEOUT, `${op}: tx ${txId} not committed after ${attempts} submissions`, { op, txId }, { cause: lastErr });
      }
      if (status.code === peer.TxValidationCode.VALID) return { result: tx.getResult(), txId: `0x${txId}`, height: status.block };
      if (RETRY_CODES.has(status.code as never) && conflict < (this.#opts.conflictRetries ?? 3)) continue;
      throw new LedgerError(this.name, FabricErrorCode.TX_INVALID, `${op}: tx ${txId} committed invalid: ${codeName(status.code)}`, {
        op,
        txId,
        validationCode: codeName(status.code),
        height: status.block,
      });
    }
  }

  async waitFinal(height: number, timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const info = await this.#chainInfo();
      if (info.height - 1 >= height) return;
      if (Date.now() >= until) throw new LedgerError(this.name, FabricErrorCode.TIMEOUT, `height ${height} not committed after ${timeoutMs} ms (height ${info.height - 1})`, { height });
      await sleep(100);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stream.close();
    this.#conn.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new LedgerError(this.name, FabricErrorCode.CLOSED, "adapter is closed");
  }

  #checkLockParams(p: LockParams): void {
    if (!ADDR.test(p.receiver)) throw new InvalidInputError("receiver", `"${p.receiver}" is not a lower-case 0x 20-byte address`);
    if (!HEX32.test(p.hashlock)) throw new InvalidInputError("hashlock", "must be 32 bytes of lower-case 0x hex");
    if (typeof p.amount !== "bigint" || p.amount <= 0n) throw new InvalidInputError("amount", "must be a positive bigint");
    if (!Number.isSafeInteger(p.timelock) || p.timelock <= 0) throw new InvalidInputError("timelock", "must be unix seconds");
    this.asset(p.asset);
  }

  /** Chaincode errors ("CODE: message") become LedgerErrors with that code; transport errors keep the gRPC code. */
  #mapError(err: unknown, what: string): IsthmusError {
    if (err instanceof IsthmusError) return err;
    if (err instanceof GatewayError) {
      const texts = [err.message, ...err.details.map((d) => d.message)];
      for (const t of texts) {
        const m = /chaincode response \d+, ([A-Z][A-Z_]+): (.*)$/s.exec(t);
        if (m) return new LedgerError(this.name, m[1]!, `${what}: ${m[2]}`, { what, grpcCode: err.code }, { cause: err });
      }
      const code = err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED ? FabricErrorCode.UNAVAILABLE : err instanceof EndorseError ? FabricErrorCode.ENDORSE_FAILED : FabricErrorCode.QUERY_FAILED;
      return new LedgerError(this.name, code, `${what}: ${texts.join("; ")}`, { what, grpcCode: err.code }, { cause: err });
    }
    return new LedgerError(this.name, FabricErrorCode.QUERY_FAILED, `${what}: ${(err as Error)?.message ?? String(err)}`, { what }, { cause: err });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
