/**
 * LedgerAdapter for an EVM chain running contracts/HTLC.sol, as seen by one key holder.
 *
 * Finality rule: N confirmations (finalizedHeight = latest - confirmations), or the node's
 * `finalized`/`safe` block where it has one (option finalityTag). Reads that
 * must be final (getLock, events) are pinned to that block; getLock reads state at the
 * block's hash (EIP-1898) so the returned hash is exactly the state that was read.
 * Trust model for getLock ("state-proof"): the adapter trusts one header, its checkpoint
 * (configured, or else the first finalized header it sees), and believes nothing else the
 * RPC says about a lock: each read fetches the headers from the checkpoint up to the head,
 * recomputes every hash from the header's fields and checks the parentHash chain, then
 * verifies eth_getProof's account and storage proofs against the finalized header's
 * stateRoot (proofs/evm). Events and balances are still plain RPC reads.
 */
import {
  AbiCoder,
  getAddress,
  Interface,
  isError,
  isHexString,
  keccak256,
  toQuantity,
  Wallet,
  ZeroAddress,
  type JsonRpcProvider,
  type Log,
} from "ethers";
import { errorMessage, InvalidInputError, IsthmusError, LedgerError, VerificationError } from "../errors.ts";
import type {
  AssetInfo,
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
import { type EvmLock, type HeaderCheck, type StorageProof, checkHeader, checkHeaderChain, htlcLockSlots, verifyHtlcLockProof } from "../../proofs/evm/index.ts";
import { type EvmLockBundle, EVM_LOCK_BUNDLE_KIND, PROOF_BUNDLE_VERSION } from "../../proofs/bundle.ts";
import { loadArtifact } from "./artifacts.ts";
import { createProvider } from "./provider.ts";
import { buildErrorInterface, describeRpcError } from "./revert.ts";
import { EvmErrorCode, TxSender, type TransactionSigner } from "./tx-sender.ts";

export interface EvmLedgerOptions {
  /** Ledger name in routes, events and errors, e.g. "evm". */
  readonly name: string;
  readonly rpcUrl: string;
  readonly chainId: number;
  /**
   * This adapter's key (32-byte 0x hex), all its transactions signed locally with it; or,
   * instead, a signer of populated transactions with its address (e.g. a dApp's ethers Signer).
   */
  readonly privateKey?: string;
  readonly signer?: TransactionSigner;
  /** Plain strings, as config files give them; both are validated here. */
  readonly htlcAddress: string;
  /** ETH has id 0x0000000000000000000000000000000000000000; a token's id is its address. */
  readonly assets: readonly AssetInfo[];
  /** Blocks on top of a block before it counts as final (devnet: 2). */
  readonly confirmations: number;
  /**
   * Take the finalized height from the node's `finalized` (or `safe`) block tag instead of
   * latest - confirmations, for chains whose nodes know finality. The headers above it up
   * to the head are still fetched and checked to link to it.
   */
  readonly finalityTag?: "finalized" | "safe";
  readonly blockTimeSec: number;
  readonly clockSkewSec: number;
  /**
   * ERC-20 allowance policy when a lock finds the allowance short. "exact" (default)
   * approves just the lock's amount: the HTLC never holds a standing allowance over the
   * key's tokens, at the cost of one approve transaction per ERC-20 lock. "max" approves
   * 2^256-1 once, trading that exposure for one transaction fewer per lock.
   */
  readonly erc20Approval?: "exact" | "max";
  /** Poll period for receipts and waitFinal. Default 200. */
  readonly pollingIntervalMs?: number;
  /** Per-RPC-request timeout. Default 30000. */
  readonly rpcTimeoutMs?: number;
  /** How long a sent transaction may take to be included. Default 120000. */
  readonly receiptTimeoutMs?: number;
  /** Default `<repo>/artifacts`. */
  readonly artifactsDir?: string;
  /**
   * The header getLock trusts a priori (its hash at its height); every later header must
   * descend from it. Default: the first finalized header the adapter sees when it first
   * talks to the node (trust on first use).
   */
  readonly checkpoint?: { readonly height: number; readonly hash: string };
}

/** A header the adapter has checked: hash recomputed from its fields. */
type CheckedHeader = Extract<HeaderCheck, { ok: true }>;

/** What a verified getLock read rests on: the header chain from the checkpoint and the raw proof. */
interface ProvenLock {
  /** Checked headers from the finalized header (inclusive) up to the head. */
  readonly descendants: readonly CheckedHeader[];
  readonly finalized: CheckedHeader;
  readonly accountProof: Hex[];
  readonly storageProof: StorageProof[];
  readonly lock: EvmLock | null;
}

const HEADER_FETCH_CONCURRENCY = 16;

const ERC20_ABI = [
  "function balanceOf(address owner) view returns (uint256)",
  "function allowance(address owner, address spender) view returns (uint256)",
  "function approve(address spender, uint256 amount) returns (bool)",
];
const MAX_UINT256 = (1n << 256n) - 1n;
const LOCK_ID_TYPES = ["address", "address", "address", "uint256", "bytes32", "uint64"];
const DEFAULT_WAIT_FINAL_MS = 120_000;

export class EvmLedger implements LedgerAdapter {
  readonly name: string;
  readonly kind: LedgerKind = "evm";
  readonly timing: LedgerTiming;
  readonly address: Hex;

  private readonly opts: EvmLedgerOptions;
  private readonly htlc: Hex;
  private readonly provider: JsonRpcProvider;
  private readonly sender: TxSender;
  private readonly htlcIface: Interface;
  private readonly erc20Iface = new Interface(ERC20_ABI);
  private readonly bySymbol = new Map<string, AssetInfo>();
  private readonly byId = new Map<string, AssetInfo>();
  private readonly topics: { locked: string; claimed: string; refunded: string };
  private readonly pollMs: number;
  private ready: Promise<void> | undefined;
  private closed = false;
  /** Largest eth_getLogs block range to ask for; shrinks when the node refuses one. */
  private logSpan = Number.MAX_SAFE_INTEGER;
  /** The last header this adapter trusts; moves forward to each verified finalized header. */
  private checkpoint: { height: number; hash: Hex } | undefined;

  constructor(opts: EvmLedgerOptions) {
    if (!Number.isInteger(opts.confirmations) || opts.confirmations < 0) {
      throw new InvalidInputError("confirmations", `must be a non-negative integer, got ${opts.confirmations}`);
    }
    if (!(opts.blockTimeSec > 0)) throw new InvalidInputError("blockTimeSec", `must be positive, got ${opts.blockTimeSec}`);
    if (!(opts.clockSkewSec >= 0)) throw new InvalidInputError("clockSkewSec", `must be non-negative, got ${opts.clockSkewSec}`);
    this.opts = opts;
    this.name = opts.name;
    this.htlc = requireAddress("htlcAddress", opts.htlcAddress);
    if ((opts.privateKey === undefined) === (opts.signer === undefined)) {
      throw new InvalidInputError("privateKey", "give exactly one of privateKey and signer");
    }
    let wallet: TransactionSigner;
    try {
      wallet = opts.signer ?? new Wallet(opts.privateKey!);
    } catch {
      throw new InvalidInputError("privateKey", "not a valid secp256k1 private key (32-byte 0x hex)"); // never echo the key
    }
    this.timing = {
      blockTimeSec: opts.blockTimeSec,
      finalitySec: opts.confirmations * opts.blockTimeSec,
      clockSkewSec: opts.clockSkewSec,
    };
    for (const a of opts.assets) {
      const id = requireAddress(`assets.${a.symbol}.id`, a.id);
      if (this.bySymbol.has(a.symbol)) throw new InvalidInputError("assets", `symbol ${a.symbol} listed twice`);
      if (this.byId.has(id)) throw new InvalidInputError("assets", `id ${id} listed twice`);
      const info: AssetInfo = { symbol: a.symbol, decimals: a.decimals, id };
      this.bySymbol.set(a.symbol, info);
      this.byId.set(id, info);
    }

    const artifactOpts = opts.artifactsDir ? { artifactsDir: opts.artifactsDir } : {};
    const artifact = loadArtifact("HTLC", artifactOpts);
    this.htlcIface = new Interface(artifact.abi);
    this.topics = {
      locked: this.htlcIface.getEvent("Locked")!.topicHash,
      claimed: this.htlcIface.getEvent("Claimed")!.topicHash,
      refunded: this.htlcIface.getEvent("Refunded")!.topicHash,
    };
    if (opts.checkpoint !== undefined) {
      requireHeight("checkpoint.height", opts.checkpoint.height);
      requireBytes32("checkpoint.hash", opts.checkpoint.hash as Hex);
      this.checkpoint = { height: opts.checkpoint.height, hash: lower(opts.checkpoint.hash) };
    }
    this.pollMs = opts.pollingIntervalMs ?? 200;
    this.provider = createProvider(opts.rpcUrl, opts.chainId, {
      pollingIntervalMs: this.pollMs,
      ...(opts.rpcTimeoutMs !== undefined ? { rpcTimeoutMs: opts.rpcTimeoutMs } : {}),
    });
    this.sender = new TxSender({
      chain: opts.name,
      chainId: opts.chainId,
      provider: this.provider,
      wallet,
      // KRWT's ABI brings OZ's ERC-20 errors, which SafeERC20 bubbles up through the HTLC.
      errors: buildErrorInterface(artifact.abi, loadArtifact("KRWT", artifactOpts).abi),
      pollingIntervalMs: this.pollMs,
      receiptTimeoutMs: opts.receiptTimeoutMs ?? 120_000,
    });
    this.address = this.sender.address;
  }

  assets(): readonly AssetInfo[] {
    return [...this.bySymbol.values()];
  }

  asset(symbol: string): AssetInfo {
    const a = this.bySymbol.get(symbol);
    if (!a) throw new InvalidInputError("asset", `${this.name} has no asset ${symbol} (known: ${[...this.bySymbol.keys()].join(", ")})`, { symbol });
    return a;
  }

  async head(): Promise<LedgerHead> {
    const b = await this.finalizedBlock();
    return { finalizedHeight: b.height, finalizedTime: b.timestamp, headHeight: b.headHeight };
  }

  async events(fromHeight: number, toHeight: number): Promise<LedgerEvent[]> {
    requireHeight("fromHeight", fromHeight);
    requireHeight("toHeight", toHeight);
    if (fromHeight > toHeight) throw new InvalidInputError("fromHeight", `${fromHeight} is above toHeight ${toHeight}`);
    await this.ensureReady();
    const { finalized } = await this.heights();
    if (toHeight > finalized) throw new InvalidInputError("toHeight", `${toHeight} is not final yet (finalized height ${finalized})`);

    const logs = await this.getLogs(fromHeight, toHeight);
    const out: LedgerEvent[] = [];
    for (const log of logs) {
      const ev = this.toEvent(log);
      if (ev) out.push(ev);
    }
    return out.sort((a, b) => a.height - b.height || a.index - b.index);
  }

  async getLock(lockId: Hex): Promise<VerifiedLock | null> {
    requireBytes32("lockId", lockId);
    const proven = await this.proveLockAtFinalized(lockId);
    if (proven.lock === null) return null;
    const l = proven.lock;
    const asset = this.byId.get(l.token);
    if (!asset) throw new VerificationError(this.name, `lock ${lockId} holds unknown token ${l.token}`, { lockId, token: l.token });
    const timelock = safeNumber(l.timelock);
    if (timelock === undefined) throw new VerificationError(this.name, `lock ${lockId} has an out-of-range timelock ${l.timelock}`, { lockId });
    const common = {
      chain: this.name,
      lockId: l.lockId,
      sender: l.sender,
      receiver: l.receiver,
      asset: asset.symbol,
      amount: l.amount,
      hashlock: l.hashlock,
      timelock,
    };
    // proofs/evm already checked the id, and sha256(preimage) == hashlock for a claimed lock.
    const lock: HtlcLock = l.status === "claimed" ? { ...common, status: "claimed", preimage: l.preimage! } : { ...common, status: l.status };
    return { lock, verified: { kind: "state-proof", height: proven.finalized.number, stateRoot: proven.finalized.stateRoot } };
  }

  /**
   * A self-contained proof bundle (proofs/bundle.ts) of lock `lockId` at the finalized
   * head, verified here first. Its headers run from the proven (finalized) block up to the
   * head, so a verifier who trusts any one of them can check it offline: a trusted header
   * commits to its ancestors through parentHash.
   */
  async proveLock(lockId: Hex): Promise<EvmLockBundle> {
    requireBytes32("lockId", lockId);
    const proven = await this.proveLockAtFinalized(lockId);
    return {
      version: PROOF_BUNDLE_VERSION,
      kind: EVM_LOCK_BUNDLE_KIND,
      chain: this.name,
      chainId: this.opts.chainId,
      htlc: this.htlc,
      lockId: lockId.toLowerCase() as Hex,
      headers: proven.descendants.map((c) => c.header),
      accountProof: proven.accountProof,
      storageProof: proven.storageProof,
    };
  }

  /** The header getLock currently trusts (undefined before the adapter first talks to the node, unless configured). */
  trustedHeader(): { height: number; hash: Hex } | undefined {
    return this.checkpoint && { ...this.checkpoint };
  }

  lockIdFor(params: LockParams, sender?: Hex): Hex {
    this.checkLockParams(params);
    return this.lockIdFromFields({
      sender: requireAddress("sender", sender ?? this.address),
      receiver: requireAddress("receiver", params.receiver),
      token: this.asset(params.asset).id as Hex,
      amount: params.amount,
      hashlock: params.hashlock,
      timelock: BigInt(params.timelock),
    });
  }

  async balance(asset: string, owner?: Hex): Promise<bigint> {
    const token = this.asset(asset).id as Hex;
    const who = requireAddress("owner", owner ?? this.address);
    await this.ensureReady();
    if (token === ZeroAddress) return this.rpc("eth_getBalance", () => this.provider.getBalance(who, "latest"));
    return this.erc20Call<bigint>(token, "balanceOf", [who]);
  }

  async lock(params: LockParams): Promise<LockResult> {
    const lockId = this.lockIdFor(params);
    const token = this.asset(params.asset).id as Hex;
    await this.ensureReady();
    return this.sender.sequence(async (send) => {
      if (token !== ZeroAddress) {
        // A resent lock must not approve again before the contract refuses it as LockExists.
        const existing = await this.rpc("getLock", () => this.provider.call({ to: this.htlc, data: this.htlcIface.encodeFunctionData("getLock", [lockId]) }));
        if (this.htlcIface.decodeFunctionResult("getLock", existing)[0].status !== 0n) {
          const revert = { name: "LockExists", args: { lockId }, data: this.htlcIface.encodeErrorResult("LockExists", [lockId]) };
          throw new LedgerError(this.name, EvmErrorCode.TX_REVERTED, `lock would revert: LockExists(lockId=${lockId})`, { op: "lock", revert, stage: "estimate" });
        }
        const allowance = await this.erc20Call<bigint>(token, "allowance", [this.address, this.htlc]);
        if (allowance < params.amount) {
          const amount = this.opts.erc20Approval === "max" ? MAX_UINT256 : params.amount;
          await send({ label: `approve ${params.asset}`, to: token, data: this.erc20Iface.encodeFunctionData("approve", [this.htlc, amount]) as Hex });
        }
      }
      const data = this.htlcIface.encodeFunctionData("lock", [params.receiver, token, params.amount, params.hashlock, params.timelock]) as Hex;
      const receipt = await send({ label: "lock", to: this.htlc, data, value: token === ZeroAddress ? params.amount : 0n });
      // A Locked log with our id proves the contract at htlcAddress speaks our ABI and id scheme.
      const emitted = receipt.logs.some((log) => lower(log.address) === this.htlc && log.topics[0] === this.topics.locked && log.topics[1] === lockId);
      if (!emitted) throw new VerificationError(this.name, `lock transaction ${receipt.hash} emitted no Locked event for ${lockId}`, { lockId, txId: receipt.hash });
      return { lockId, txId: receipt.hash as Hex, height: receipt.blockNumber };
    });
  }

  async claim(lockId: Hex, preimage: Hex): Promise<SubmitResult> {
    requireBytes32("lockId", lockId);
    requireBytes32("preimage", preimage);
    await this.ensureReady();
    const receipt = await this.sender.send({ label: "claim", to: this.htlc, data: this.htlcIface.encodeFunctionData("claim", [lockId, preimage]) as Hex });
    return { txId: receipt.hash as Hex, height: receipt.blockNumber };
  }

  async refund(lockId: Hex): Promise<SubmitResult> {
    requireBytes32("lockId", lockId);
    await this.ensureReady();
    const receipt = await this.sender.send({ label: "refund", to: this.htlc, data: this.htlcIface.encodeFunctionData("refund", [lockId]) as Hex });
    return { txId: receipt.hash as Hex, height: receipt.blockNumber };
  }

  async waitFinal(height: number, timeoutMs = DEFAULT_WAIT_FINAL_MS): Promise<void> {
    requireHeight("height", height);
    await this.ensureReady();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { head: latest, finalized } = await this.heights();
      if (finalized >= height) return;
      if (Date.now() >= deadline) {
        throw new LedgerError(this.name, EvmErrorCode.TIMEOUT, `height ${height} not final after ${timeoutMs} ms (latest ${latest}, ${this.opts.confirmations} confirmations needed)`, {
          height,
          latest,
        });
      }
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }

  /** Lets queued transactions settle, then releases the provider. Later calls fail with CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sender.onIdle();
    this.provider.destroy();
  }

  // ---- internals ----

  /**
   * Fetches and checks the header chain from the checkpoint through the confirmation
   * headers, then eth_getProof of the lock's slots at the finalized height, verified
   * against that header's stateRoot. Throws VerificationError with the reason on any lie.
   */
  private async proveLockAtFinalized(lockId: Hex): Promise<ProvenLock> {
    await this.ensureReady();
    const { head: headHeight, finalized: finalizedHeight } = await this.heights();
    const cp = this.checkpoint;
    // The confirmation headers (finalized+1 .. head) must link to the finalized one: a forged
    // finalized header would need its successors forged too.
    const lo = Math.min(cp?.height ?? finalizedHeight, finalizedHeight);
    const hi = Math.max(cp?.height ?? headHeight, headHeight);
    const headers = await this.fetchCheckedHeaders(lo, hi);
    const linked = checkHeaderChain(headers.map((h) => h.header));
    if (!linked.ok) throw new VerificationError(this.name, `header chain ${lo}..${hi}: ${linked.reason}`, { from: lo, to: hi });
    const at = (height: number): CheckedHeader => headers[height - lo]!;
    if (cp && at(cp.height).hash !== cp.hash) {
      throw new VerificationError(this.name, `header ${cp.height} hashes to ${at(cp.height).hash}, not the trusted checkpoint ${cp.hash}`, { checkpoint: cp });
    }
    const finalized = at(finalizedHeight);

    const slots = htlcLockSlots(lockId);
    const answer = await this.rpc("eth_getProof", () => this.provider.send("eth_getProof", [this.htlc, slots, toQuantity(finalizedHeight)]) as Promise<unknown>);
    const a = (answer ?? {}) as { accountProof?: Hex[]; storageProof?: StorageProof[] };
    const storageProof = Array.isArray(a.storageProof)
      ? a.storageProof.map((sp) => ({ key: normalizeWord(sp?.key), value: sp?.value, proof: sp?.proof }) as StorageProof)
      : (a.storageProof as unknown as StorageProof[]);
    const r = verifyHtlcLockProof({ stateRoot: finalized.stateRoot, htlc: this.htlc, lockId: lockId.toLowerCase() as Hex, accountProof: a.accountProof as Hex[], storageProof });
    if (!r.ok) throw new VerificationError(this.name, `lock ${lockId} at height ${finalizedHeight}: ${r.reason}`, { lockId, height: finalizedHeight, stateRoot: finalized.stateRoot });

    if (!cp || finalizedHeight > cp.height) this.checkpoint = { height: finalized.number, hash: finalized.hash };
    return {
      descendants: headers.slice(finalizedHeight - lo, headHeight - lo + 1),
      finalized,
      accountProof: a.accountProof as Hex[],
      storageProof,
      lock: r.lock,
    };
  }

  /** The node's head height and the finalized height under this adapter's finality rule. */
  private async heights(): Promise<{ head: number; finalized: number }> {
    const head = await this.rpc("eth_blockNumber", () => this.provider.getBlockNumber());
    const tag = this.opts.finalityTag;
    if (tag === undefined) return { head, finalized: Math.max(0, head - this.opts.confirmations) };
    const block = (await this.rpc(`eth_getBlockByNumber(${tag})`, () => this.provider.send("eth_getBlockByNumber", [tag, false]))) as { number?: unknown } | null;
    const n = typeof block?.number === "string" ? Number(block.number) : NaN;
    if (!Number.isSafeInteger(n) || n < 0) throw new LedgerError(this.name, EvmErrorCode.RPC_FAILED, `node has no usable ${tag} block`, { tag });
    // The head may lag the tag between two reads; the finalized height never exceeds the head.
    return { head: Math.max(head, n), finalized: n };
  }

  /** Headers from..to (inclusive), each hash recomputed from its fields. */
  private async fetchCheckedHeaders(from: number, to: number): Promise<CheckedHeader[]> {
    const out: CheckedHeader[] = new Array(to - from + 1);
    for (let start = from; start <= to; start += HEADER_FETCH_CONCURRENCY) {
      const batch: Promise<void>[] = [];
      for (let n = start; n <= Math.min(to, start + HEADER_FETCH_CONCURRENCY - 1); n++) {
        batch.push(
          (async () => {
            const raw = await this.rpc("eth_getBlockByNumber", () => this.provider.send("eth_getBlockByNumber", [toQuantity(n), false]) as Promise<unknown>);
            const c = checkHeader(raw);
            if (!c.ok) throw new VerificationError(this.name, `header ${n}: ${c.reason}`, { height: n });
            if (c.number !== n) throw new VerificationError(this.name, `asked for header ${n}, got header ${c.number}`, { height: n });
            out[n - from] = c;
          })(),
        );
      }
      await Promise.all(batch);
    }
    return out;
  }

  /** Once per adapter (retried after a failure): the node serves our chain and the HTLC exists. */
  private ensureReady(): Promise<void> {
    if (this.closed) return Promise.reject(new LedgerError(this.name, EvmErrorCode.CLOSED, "adapter is closed"));
    this.ready ??= (async () => {
      const answered = Number(await this.rpc("eth_chainId", () => this.provider.send("eth_chainId", []) as Promise<string>));
      if (answered !== this.opts.chainId) {
        throw new LedgerError(this.name, EvmErrorCode.WRONG_CHAIN, `node at the RPC URL serves chain ${answered}, expected ${this.opts.chainId}`, {
          expected: this.opts.chainId,
          answered,
        });
      }
      const code = await this.rpc("eth_getCode", () => this.provider.getCode(this.htlc));
      if (code === "0x") throw new LedgerError(this.name, EvmErrorCode.NO_CONTRACT, `no contract at htlcAddress ${this.htlc}`, { htlcAddress: this.htlc });
      if (!this.checkpoint) {
        // Trust on first use: the first finalized header this adapter sees becomes its checkpoint.
        const { finalized } = await this.heights();
        const [first] = await this.fetchCheckedHeaders(finalized, finalized);
        this.checkpoint ??= { height: first!.number, hash: first!.hash };
      }
    })().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  private async finalizedBlock(): Promise<{ height: number; hash: Hex; timestamp: number; headHeight: number }> {
    await this.ensureReady();
    const { head: headHeight, finalized: height } = await this.heights();
    const block = await this.rpc("eth_getBlockByNumber", () => this.provider.getBlock(height));
    if (!block?.hash) throw new LedgerError(this.name, EvmErrorCode.RPC_FAILED, `node has no block ${height} although its head is ${headHeight}`, { height, headHeight });
    return { height, hash: block.hash.toLowerCase() as Hex, timestamp: block.timestamp, headHeight };
  }

  /**
   * eth_getLogs over [from, to] in chunks of `logSpan` blocks. When the node refuses a chunk
   * as too large the span halves and is remembered, so later scans go straight to a size the
   * node accepts instead of failing their way down again.
   */
  private async getLogs(from: number, to: number): Promise<Log[]> {
    const out: Log[] = [];
    let start = from;
    while (start <= to) {
      const end = Math.min(to, start + this.logSpan - 1);
      try {
        const logs = await this.provider.getLogs({
          address: this.htlc,
          topics: [[this.topics.locked, this.topics.claimed, this.topics.refunded]],
          fromBlock: start,
          toBlock: end,
        });
        out.push(...logs);
        start = end + 1;
      } catch (err) {
        if (end > start && isRangeError(err)) {
          this.logSpan = Math.max(1, Math.floor((end - start + 1) / 2));
          continue;
        }
        throw new LedgerError(this.name, EvmErrorCode.RPC_FAILED, `eth_getLogs [${start}, ${end}] failed: ${describeRpcError(err)}`, { from: start, to: end }, { cause: err });
      }
    }
    return out;
  }

  /**
   * Maps one HTLC log; null for a Locked event we cannot represent (a token not in our asset
   * list, or a timelock beyond 2^53): anyone can create such locks, they are never ours to
   * act on, and refusing them here would stall every scan that covers them.
   */
  private toEvent(log: Log): LedgerEvent | null {
    const parsed = this.htlcIface.parseLog({ topics: [...log.topics], data: log.data });
    if (!parsed) return null;
    const at = { txId: log.transactionHash.toLowerCase() as Hex, height: log.blockNumber, index: log.index };
    const lockId = lower(parsed.args.lockId as string);
    switch (parsed.name) {
      case "Locked": {
        const fields = {
          sender: lower(parsed.args.sender as string),
          receiver: lower(parsed.args.receiver as string),
          token: lower(parsed.args.token as string),
          amount: parsed.args.amount as bigint,
          hashlock: lower(parsed.args.hashlock as string),
          timelock: parsed.args.timelock as bigint,
        };
        if (this.lockIdFromFields(fields) !== lockId) {
          throw new VerificationError(this.name, `Locked event in ${at.txId} carries id ${lockId} that its fields do not hash to`, { ...at, lockId });
        }
        const asset = this.byId.get(fields.token);
        const timelock = safeNumber(fields.timelock);
        if (!asset || timelock === undefined) return null;
        return {
          kind: "locked",
          lock: {
            chain: this.name,
            lockId,
            sender: fields.sender,
            receiver: fields.receiver,
            asset: asset.symbol,
            amount: fields.amount,
            hashlock: fields.hashlock,
            timelock,
            status: "locked",
          },
          ...at,
        };
      }
      case "Claimed":
        return { kind: "claimed", lockId, preimage: lower(parsed.args.preimage as string), ...at };
      case "Refunded":
        return { kind: "refunded", lockId, ...at };
      default:
        return null;
    }
  }

  private lockIdFromFields(f: { sender: Hex; receiver: Hex; token: Hex; amount: bigint; hashlock: Hex; timelock: bigint }): Hex {
    const encoded = AbiCoder.defaultAbiCoder().encode(LOCK_ID_TYPES, [f.sender, f.receiver, f.token, f.amount, f.hashlock, f.timelock]);
    return keccak256(encoded) as Hex;
  }

  private checkLockParams(p: LockParams): void {
    requireAddress("receiver", p.receiver);
    this.asset(p.asset);
    if (typeof p.amount !== "bigint" || p.amount <= 0n || p.amount > MAX_UINT256) throw new InvalidInputError("amount", `must be a positive uint256, got ${p.amount}`);
    requireBytes32("hashlock", p.hashlock);
    if (!Number.isSafeInteger(p.timelock) || p.timelock <= 0) throw new InvalidInputError("timelock", `must be positive unix seconds, got ${p.timelock}`);
  }

  private async erc20Call<T>(token: Hex, fn: string, args: readonly unknown[]): Promise<T> {
    const data = this.erc20Iface.encodeFunctionData(fn, args);
    const raw = await this.rpc(`${fn} on ${token}`, () => this.provider.call({ to: token, data }));
    return this.erc20Iface.decodeFunctionResult(fn, raw)[0] as T;
  }

  /** Runs a read, turning transport failures into LedgerError RPC_FAILED. */
  private async rpc<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof IsthmusError) throw err;
      throw new LedgerError(this.name, EvmErrorCode.RPC_FAILED, `${what} failed: ${describeRpcError(err)}`, { what }, { cause: err });
    }
  }
}

/**
 * Node refusals that mean "ask for fewer blocks" (geth, erigon, nethermind, hosted RPCs).
 * Rate limits and timeouts are excluded on purpose: splitting would only multiply them.
 */
function isRangeError(err: unknown): boolean {
  const text = describeRpcError(err);
  if (isError(err, "TIMEOUT") || /rate.?limit|too many requests|timed? ?out/i.test(text)) return false;
  const e = err as { error?: { code?: unknown }; info?: { error?: { code?: unknown } } };
  const code = e?.info?.error?.code ?? e?.error?.code;
  return code === -32005 || /block range|range (is )?too|too (many|large|big)|exceed|more than \d+|max(imum)? .*(blocks|results|logs)|response size/i.test(text);
}

/** eth_getProof echoes keys as the caller sent them, or (some nodes) as a minimal quantity; compare as 32-byte words. */
function normalizeWord(v: unknown): Hex {
  return typeof v === "string" && /^0x[0-9a-fA-F]{1,64}$/.test(v) ? (`0x${v.slice(2).toLowerCase().padStart(64, "0")}` as Hex) : (v as Hex);
}

function lower(s: string): Hex {
  return s.toLowerCase() as Hex;
}

function safeNumber(v: bigint): number | undefined {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
}

function requireAddress(what: string, v: string): Hex {
  if (typeof v !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(v)) throw new InvalidInputError(what, `not a 20-byte 0x address: ${String(v)}`);
  try {
    getAddress(v); // rejects a mixed-case address with a wrong checksum: likely a typo
  } catch {
    throw new InvalidInputError(what, `bad address checksum: ${v}`);
  }
  return v.toLowerCase() as Hex;
}

function requireBytes32(what: string, v: Hex): void {
  if (typeof v !== "string" || !isHexString(v, 32)) throw new InvalidInputError(what, `not a 32-byte 0x hex value: ${String(v)}`);
}

function requireHeight(what: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new InvalidInputError(what, `must be a non-negative integer, got ${v}`);
}
