/**
 * Typed client of the node API. Answers are parsed strictly into domain types (a malformed
 * answer is a LedgerError BAD_RESPONSE); nothing here verifies proofs — that is the
 * caller's job (see ../adapter.ts), with everything it needs returned alongside.
 */
import * as grpc from "@grpc/grpc-js";
import { type Hex } from "../../../proofs/hex.ts";
import { type MerkleProof } from "../../../proofs/merkle.ts";
import { type SparseAbsenceProof, type SparseProof } from "../../../proofs/sparse-merkle.ts";
import { type Commit } from "../../../proofs/consortium/commit.ts";
import { type Header } from "../../../proofs/consortium/header.ts";
import { type ChainEvent, type EncodedTxOutcome, type TxResultRecord, decodeEvent, decodeTxResult } from "../../../proofs/consortium/results.ts";
import { type AssetRecord, ASSET_SYMBOL_RE } from "../../../proofs/consortium/state.ts";
import { type ValidatorSet, makeValidatorSet } from "../../../proofs/consortium/validators.ts";
import { LedgerError } from "../../errors.ts";
import { isTxErrorCode, RpcErrorCode, TxErrorCode, TxRejectedError } from "../codes.ts";
import { type ResumeOptions, resumeByHeight } from "./resume.ts";
import {
  WireError,
  bigintFromWire,
  bytesFromWire,
  commitFromWire,
  consortiumService,
  headerFromWire,
  hexFromWire,
  outcomeFromWire,
  proofFromWire,
  stateAbsenceFromWire,
  stateProofFromWire,
  safeIntFromWire,
} from "./wire.ts";

export interface ConsortiumClientOptions {
  /** Ledger name used in errors; default "consortium". */
  readonly chain?: string;
  /** Deadline of each call except WaitTx; default 10 s. */
  readonly deadlineMs?: number;
}

export interface NodeStatus {
  readonly chainId: number;
  readonly height: number;
  readonly lastBlockTimeMs: number;
  readonly lastBlockHash: Hex;
  readonly validators: ValidatorSet;
  readonly validatorsHash: Hex;
  readonly assets: readonly AssetRecord[];
  readonly blockIntervalMs: number;
  readonly maxClockSkewMs: number;
  readonly mempoolSize: number;
}

export interface NodeBlock {
  readonly header: Header;
  readonly hash: Hex;
  readonly commit: Commit;
  readonly txs: readonly Uint8Array[];
  readonly outcomes: readonly EncodedTxOutcome[];
}

export type TxStatus =
  | {
      readonly status: "committed";
      readonly hash: Hex;
      readonly height: number;
      readonly index: number;
      readonly tx: Uint8Array;
      readonly result: TxResultRecord;
      readonly events: readonly ChainEvent[];
    }
  | { readonly status: "pending"; readonly hash: Hex }
  | { readonly status: "dropped"; readonly hash: Hex; readonly code: string; readonly message: string }
  | { readonly status: "unknown"; readonly hash: Hex };

export interface AccountInfo {
  readonly address: Hex;
  /** Next nonce by committed state. */
  readonly nonce: number;
  /** Next nonce counting the node's pending transactions of this account. */
  readonly pendingNonce: number;
  readonly balances: ReadonlyMap<string, bigint>;
  /** Head height the account was read at. */
  readonly height: number;
}

/** The node's proof that there is no such lock at `header` (verify with verifyLockAbsence). */
export interface LockAbsence {
  readonly found: false;
  readonly absence: SparseAbsenceProof;
  readonly header: Header;
  readonly commit: Commit;
}

export interface LockWithProof {
  readonly found: true;
  /** Encoded lock record (proofs/consortium/state.ts). */
  readonly value: Uint8Array;
  readonly proof: SparseProof;
  readonly header: Header;
  readonly commit: Commit;
}

/** A state key at a height as the node proves it (verify with verifyCommittedEntry / verifyCommittedAbsence). */
export type StateWithProof =
  | { readonly found: true; readonly value: Uint8Array; readonly proof: SparseProof; readonly header: Header; readonly commit: Commit }
  | { readonly found: false; readonly absence: SparseAbsenceProof; readonly header: Header; readonly commit: Commit };

export interface ProvenEventWire {
  readonly txIndex: number;
  readonly eventIndex: number;
  readonly value: Uint8Array;
  readonly proof: MerkleProof;
}

export interface BlockEvents {
  readonly header: Header;
  readonly commit: Commit;
  readonly events: readonly ProvenEventWire[];
}

export interface EventsPage {
  readonly blocks: readonly BlockEvents[];
  /** Last height this page covers. */
  readonly toHeight: number;
}

/** Options of `streamEvents` / `subscribeEvents`. */
export interface EventStreamOptions {
  /** Event kinds to receive ("transfer", "issued", "locked", "claimed", "refunded"); default all. Heights come either way. */
  readonly kinds?: readonly string[];
}

/** One answer of `submitTxs`: the tx is pending, or refused with the chain's code and reason. */
export type SubmitResult =
  | { readonly accepted: true; readonly hash: Hex }
  | { readonly accepted: false; readonly hash: Hex | null; readonly error: TxRejectedError };

type Callback = (err: grpc.ServiceError | null, res: unknown) => void;
type Method = (req: object, opts: grpc.CallOptions, cb: Callback) => void;
type StreamMethod = (req: object, opts: grpc.CallOptions) => grpc.ClientReadableStream<unknown>;

export class ConsortiumClient {
  readonly endpoint: string;
  readonly #chain: string;
  readonly #deadlineMs: number;
  readonly #client: grpc.Client & Record<string, Method>;

  /** `endpoint` is "host:port", e.g. "127.0.0.1:50051". Connects lazily. */
  constructor(endpoint: string, opts: ConsortiumClientOptions = {}) {
    this.endpoint = endpoint;
    this.#chain = opts.chain ?? "consortium";
    this.#deadlineMs = opts.deadlineMs ?? 10_000;
    const Ctor = consortiumService();
    this.#client = new Ctor(endpoint, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, Method>;
  }

  async getStatus(): Promise<NodeStatus> {
    const r = await this.call("getStatus", {});
    return this.parse("GetStatus", () => ({
      chainId: safeIntFromWire(r.chainId, "chainId"),
      height: safeIntFromWire(r.height, "height"),
      lastBlockTimeMs: safeIntFromWire(r.lastBlockTimeMs, "lastBlockTimeMs"),
      lastBlockHash: hexFromWire(r.lastBlockHash, "lastBlockHash", 32),
      validators: makeValidatorSet(
        list(r.validators, "validators").map((v: Record<string, unknown>) => ({ address: hexFromWire(v.address, "validator address", 20), stake: bigintFromWire(v.stake, "stake") })),
      ),
      validatorsHash: hexFromWire(r.validatorsHash, "validatorsHash", 32),
      assets: list(r.assets, "assets").map((a: Record<string, unknown>) => {
        if (typeof a.symbol !== "string" || !ASSET_SYMBOL_RE.test(a.symbol)) throw new WireError("bad asset symbol");
        return {
          symbol: a.symbol,
          decimals: safeIntFromWire(a.decimals, "decimals"),
          issuer: hexFromWire(a.issuer, "issuer", 20),
          supply: bigintFromWire(a.supply, "supply"),
        };
      }),
      blockIntervalMs: safeIntFromWire(r.blockIntervalMs, "blockIntervalMs"),
      maxClockSkewMs: safeIntFromWire(r.maxClockSkewMs, "maxClockSkewMs"),
      mempoolSize: safeIntFromWire(r.mempoolSize, "mempoolSize"),
    }));
  }

  /** The committed block at `height`, or null past the head. */
  async getBlock(height: number): Promise<NodeBlock | null> {
    const r = await this.call("getBlock", { height }, { notFoundIsNull: true });
    if (r === null) return null;
    return this.parse("GetBlock", () => blockFromWire(r));
  }

  /** The validator set with this hash, or null if the node does not know it (the caller re-hashes it). */
  async getValidatorSet(hash: Hex): Promise<ValidatorSet | null> {
    const r = await this.call("getValidatorSet", { hash }, { notFoundIsNull: true });
    if (r === null) return null;
    return this.parse("GetValidatorSet", () =>
      makeValidatorSet(
        list(r.validators, "validators").map((v: Record<string, unknown>) => ({ address: hexFromWire(v.address, "validator address", 20), stake: bigintFromWire(v.stake, "stake") })),
      ),
    );
  }

  async getTx(hash: Hex): Promise<TxStatus> {
    return this.parseTx("GetTx", await this.call("getTx", { hash }));
  }

  /** Waits up to `timeoutMs` (node caps it at 120 s) for the tx to be committed or dropped. */
  async waitTx(hash: Hex, timeoutMs: number): Promise<TxStatus> {
    return this.parseTx("WaitTx", await this.call("waitTx", { hash, timeoutMs }, { deadlineMs: timeoutMs + this.#deadlineMs }));
  }

  async getAccount(address: Hex): Promise<AccountInfo> {
    const r = await this.call("getAccount", { address });
    return this.parse("GetAccount", () => ({
      address: hexFromWire(r.address, "address", 20),
      nonce: safeIntFromWire(r.nonce, "nonce"),
      pendingNonce: safeIntFromWire(r.pendingNonce, "pendingNonce"),
      balances: new Map(list(r.balances, "balances").map((b: Record<string, unknown>) => [String(b.asset), bigintFromWire(b.amount, "amount")] as const)),
      height: safeIntFromWire(r.height, "height"),
    }));
  }

  /** The lock with its proof, its absence with a proof, or null when the node cannot prove either (at genesis). */
  async getLock(lockId: Hex): Promise<LockWithProof | LockAbsence | null> {
    const r = await this.call("getLock", { lockId });
    if (r.found !== true) {
      if (!r.stateAbsence) return null;
      return this.parse("GetLock", () => ({ found: false as const, absence: stateAbsenceFromWire(r.stateAbsence), header: headerFromWire(r.header), commit: commitFromWire(r.commit) }));
    }
    return this.parse("GetLock", () => ({
      found: true as const,
      value: bytesFromWire(r.value, "value"),
      proof: stateProofFromWire(r.stateProof),
      header: headerFromWire(r.header),
      commit: commitFromWire(r.commit),
    }));
  }

  /** `key` after block `height` (default: the head) with its proof or the proof of its absence. */
  async getState(key: Uint8Array, height = 0): Promise<StateWithProof> {
    const r = await this.call("getState", { key: Buffer.from(key), height });
    return this.parse("GetState", () => {
      const anchor = { header: headerFromWire(r.header), commit: commitFromWire(r.commit) };
      if (r.found === true) return { found: true as const, value: bytesFromWire(r.value, "value"), proof: stateProofFromWire(r.stateProof), ...anchor };
      return { found: false as const, absence: stateAbsenceFromWire(r.stateAbsence), ...anchor };
    });
  }

  async getEvents(fromHeight: number, toHeight: number): Promise<EventsPage> {
    const r = await this.call("getEvents", { fromHeight, toHeight });
    return this.parse("GetEvents", () => ({
      blocks: list(r.blocks, "blocks").map(blockEventsFromWire),
      toHeight: safeIntFromWire(r.toHeight, "toHeight"),
    }));
  }

  /**
   * One SubscribeBlocks stream: every committed block from `fromHeight` (>= 1) on, in order,
   * as getBlock returns it, waiting at the head for the next. Ends (throws a LedgerError
   * RPC_FAILED with the grpcCode) when the connection does; `subscribeBlocks` resumes instead.
   * Nothing is verified here. Breaking out of the loop or aborting `signal` cancels the call.
   */
  streamBlocks(fromHeight: number, signal?: AbortSignal): AsyncGenerator<NodeBlock, void, undefined> {
    return this.stream("subscribeBlocks", "SubscribeBlocks", { fromHeight }, blockFromWire, signal);
  }

  /** One SubscribeEvents stream: for every height from `fromHeight` on, its block's (matching) events with their proofs. See streamBlocks. */
  streamEvents(fromHeight: number, opts: EventStreamOptions = {}, signal?: AbortSignal): AsyncGenerator<BlockEvents, void, undefined> {
    return this.stream("subscribeEvents", "SubscribeEvents", { fromHeight, kinds: [...(opts.kinds ?? [])] }, blockEventsFromWire, signal);
  }

  /**
   * Every committed block from `fromHeight` on, each exactly once and in order, across
   * dropped connections and node restarts (resume.ts: reconnects with backoff at the last
   * delivered height + 1). Unverified: ConsortiumLedger.subscribeBlocks checks each against
   * its light client.
   */
  subscribeBlocks(fromHeight: number, opts: ResumeOptions = {}): AsyncGenerator<NodeBlock, void, undefined> {
    return resumeByHeight({ chain: this.#chain, fromHeight, open: (from, signal) => this.streamBlocks(from, signal), heightOf: (b) => b.header.height }, opts);
  }

  /** `subscribeBlocks` for SubscribeEvents: every height's (matching) events, exactly once and in order. */
  subscribeEvents(fromHeight: number, opts: ResumeOptions & EventStreamOptions = {}): AsyncGenerator<BlockEvents, void, undefined> {
    return resumeByHeight({ chain: this.#chain, fromHeight, open: (from, signal) => this.streamEvents(from, opts, signal), heightOf: (b) => b.header.height }, opts);
  }

  /** Submits signed tx bytes; resolves to the tx hash, or throws TxRejectedError with the chain's reason. */
  async submitTx(tx: Uint8Array): Promise<Hex> {
    const r = await this.call("submitTx", { tx: Buffer.from(tx) });
    if (r.accepted === true) return this.parse("SubmitTx", () => hexFromWire(r.hash, "hash", 32));
    throw this.rejection(r);
  }

  /**
   * Submits up to MAX_SUBMIT_BATCH (1000) signed txs in one call; results[i] answers txs[i]
   * (a refusal does not stop the others: a later tx of the same sender then usually reads
   * BAD_NONCE). One call instead of one per tx is what lets a client feed thousands per second.
   */
  async submitTxs(txs: readonly Uint8Array[]): Promise<SubmitResult[]> {
    const r = await this.call("submitTxs", { txs: txs.map((t) => Buffer.from(t)) });
    return this.parse("SubmitTxs", () => {
      const results = list(r.results, "results");
      if (results.length !== txs.length) throw new WireError(`${results.length} results for ${txs.length} transactions`);
      return results.map((res): SubmitResult => {
        if (res.accepted === true) return { accepted: true, hash: hexFromWire(res.hash, "hash", 32) };
        const hash = res.hash === "" || res.hash === undefined ? null : hexFromWire(res.hash, "hash", 32);
        return { accepted: false, hash, error: this.rejection(res) };
      });
    });
  }

  close(): void {
    this.#client.close();
  }

  private rejection(r: Record<string, unknown>): TxRejectedError {
    const code = String(r.errorCode);
    return new TxRejectedError(this.#chain, isTxErrorCode(code) ? code : TxErrorCode.MALFORMED_TX, String(r.errorMessage), { nodeCode: code });
  }

  private parseTx(method: string, r: Record<string, unknown>): TxStatus {
    return this.parse(method, (): TxStatus => {
      const hash = hexFromWire(r.hash, "hash", 32);
      switch (r.status) {
        case "committed": {
          const outcome = outcomeFromWire(r.outcome);
          const result = decodeTxResult(outcome.result);
          if (!result.ok) throw new WireError(`tx result: ${result.reason}`);
          const events = outcome.events.map((e) => {
            const d = decodeEvent(e);
            if (!d.ok) throw new WireError(`tx event: ${d.reason}`);
            return d.value.event;
          });
          return { status: "committed", hash, height: safeIntFromWire(r.height, "height"), index: safeIntFromWire(r.index, "index"), tx: bytesFromWire(r.tx, "tx"), result: result.value, events };
        }
        case "pending":
        case "unknown":
          return { status: r.status, hash };
        case "dropped":
          return { status: "dropped", hash, code: String(r.errorCode), message: String(r.errorMessage) };
        default:
          throw new WireError(`unknown tx status ${String(r.status)}`);
      }
    });
  }

  private async *stream<T>(method: string, label: string, req: object, parse: (r: Record<string, unknown>) => T, signal?: AbortSignal): AsyncGenerator<T, void, undefined> {
    if (signal?.aborted) return;
    const call = (this.#client[method] as unknown as StreamMethod).call(this.#client, req, {});
    const cancel = () => call.cancel();
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      for await (const msg of call) yield this.parse(label, () => parse((msg ?? {}) as Record<string, unknown>));
    } catch (err) {
      if (signal?.aborted) return;
      if (err instanceof LedgerError) throw err;
      const e = err as grpc.ServiceError;
      throw new LedgerError(this.#chain, RpcErrorCode.RPC_FAILED, `${label} at ${this.endpoint}: ${e.details || e.message}`, { endpoint: this.endpoint, grpcCode: e.code }, { cause: err });
    } finally {
      signal?.removeEventListener("abort", cancel);
      call.cancel();
    }
  }

  private parse<T>(method: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof WireError || err instanceof TypeError || err instanceof RangeError) {
        throw new LedgerError(this.#chain, RpcErrorCode.BAD_RESPONSE, `${method}: malformed answer: ${err.message}`, { endpoint: this.endpoint }, { cause: err });
      }
      throw err;
    }
  }

  private call(method: string, req: object, opts: { deadlineMs?: number; notFoundIsNull: true }): Promise<Record<string, unknown> | null>;
  private call(method: string, req: object, opts?: { deadlineMs?: number }): Promise<Record<string, unknown>>;
  private call(method: string, req: object, opts: { deadlineMs?: number; notFoundIsNull?: boolean } = {}): Promise<Record<string, unknown> | null> {
    const deadline = Date.now() + (opts.deadlineMs ?? this.#deadlineMs);
    return new Promise((resolve, reject) => {
      this.#client[method]!.call(this.#client, req, { deadline }, (err, res) => {
        if (!err) return resolve((res ?? {}) as Record<string, unknown>);
        if (opts.notFoundIsNull && err.code === grpc.status.NOT_FOUND) return resolve(null);
        reject(
          new LedgerError(this.#chain, RpcErrorCode.RPC_FAILED, `${method} at ${this.endpoint}: ${err.details || err.message}`, { endpoint: this.endpoint, grpcCode: err.code }, { cause: err }),
        );
      });
    });
  }
}

function blockFromWire(r: Record<string, unknown>): NodeBlock {
  return {
    header: headerFromWire(r.header),
    hash: hexFromWire(r.hash, "hash", 32),
    commit: commitFromWire(r.commit),
    txs: list(r.txs, "txs").map((t) => bytesFromWire(t, "tx")),
    outcomes: list(r.outcomes, "outcomes").map(outcomeFromWire),
  };
}

function blockEventsFromWire(b: Record<string, unknown>): BlockEvents {
  return {
    header: headerFromWire(b.header),
    commit: commitFromWire(b.commit),
    events: list(b.events, "events").map((e: Record<string, unknown>) => ({
      txIndex: safeIntFromWire(e.txIndex, "txIndex"),
      eventIndex: safeIntFromWire(e.eventIndex, "eventIndex"),
      value: bytesFromWire(e.value, "event value"),
      proof: proofFromWire(e.proof),
    })),
  };
}

function list(v: unknown, what: string): Record<string, unknown>[] & unknown[] {
  if (!Array.isArray(v)) throw new WireError(`${what} is not a list`);
  return v as Record<string, unknown>[];
}
