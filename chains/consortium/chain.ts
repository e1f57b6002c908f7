/**
 * One validator's copy of the chain: committed blocks (in the store) and the state after
 * the last one (in memory). Blocks enter only through `commit`, which re-checks the block,
 * verifies its commit, persists it and only then applies it. On open, the stored blocks
 * are replayed from genesis and every recomputed root is compared with its header.
 */
import { type Hex, concatBytes, fromHex, toHex } from "../../proofs/hex.ts";
import { type MerkleProof, KvMerkleTree } from "../../proofs/merkle.ts";
import { type SparseAbsenceProof, type SparseProof } from "../../proofs/sparse-merkle.ts";
import { type Commit, verifyCommit } from "../../proofs/consortium/commit.ts";
import { CONSORTIUM_SCHEME } from "../../proofs/consortium/domain.ts";
import { type Header, hashHeader } from "../../proofs/consortium/header.ts";
import { resultKey, resultsEntries } from "../../proofs/consortium/results.ts";
import {
  type AssetRecord,
  STATE_KEY_PREFIX,
  balanceKey,
  decodeAsset,
  decodeBalance,
  lockKey,
} from "../../proofs/consortium/state.ts";
import { type ValidatorSet, hashValidatorSet, makeValidatorSet, stakeOf } from "../../proofs/consortium/validators.ts";
import { type Block, type CommittedBlock } from "./block.ts";
import { type BlockExecution, type SkippedTx, blockTxRoot, buildBlockExecution, executeBlock } from "./execute.ts";
import { type Genesis, genesisHeader, genesisState } from "./genesis.ts";
import { type KvChange, MemoryKv, type StateSnapshot, changesOf } from "./kv.ts";
import { LedgerState } from "./ledger-state.ts";
import { type ChainLogger, quietLogger } from "./log.ts";
import { readSchedule, validatorSetAt } from "./staking.ts";
import { recoverSigner } from "./crypto.ts";
import { type BlockStore, type StateAdvance, StoreError, type StoredValidatorSet, type TxLocation } from "./store.ts";

export const DEFAULT_MAX_BLOCK_TXS = 1000;
/** Heights (the head included) whose state the chain keeps to serve proofs at. */
export const DEFAULT_STATE_HISTORY = 32;

export type BlockCheck = { readonly ok: true; readonly hash: Hex; readonly execution: BlockExecution } | { readonly ok: false; readonly reason: string };

export interface ChainOptions {
  readonly genesis: Genesis;
  readonly store: BlockStore;
  readonly maxBlockTxs?: number;
  /** How many recent heights' state versions to keep for proofs (default DEFAULT_STATE_HISTORY). */
  readonly stateHistory?: number;
  readonly log?: ChainLogger;
}

export interface ChainHead {
  readonly header: Header;
  readonly hash: Hex;
  /** null only at genesis (height 0), which needs no commit. */
  readonly commit: Commit | null;
}

export interface AccountView {
  readonly address: Hex;
  readonly nonce: number;
  readonly balances: readonly { readonly asset: string; readonly amount: bigint }[];
}

export interface LockAbsentAtHead {
  readonly found: false;
  readonly absence: SparseAbsenceProof;
  readonly header: Header;
  readonly commit: Commit;
}

export interface LockAtHead {
  readonly found: true;
  readonly value: Uint8Array;
  readonly proof: SparseProof;
  readonly header: Header;
  readonly commit: Commit;
}

/** A state key at a height: its value and proof, or the proof it has none, with the anchoring header and commit. */
export type StateAtHeight =
  | { readonly found: true; readonly value: Uint8Array; readonly proof: SparseProof; readonly header: Header; readonly commit: Commit }
  | { readonly found: false; readonly absence: SparseAbsenceProof; readonly header: Header; readonly commit: Commit };

export interface ProvenEvent {
  readonly txIndex: number;
  readonly eventIndex: number;
  readonly value: Uint8Array;
  readonly proof: MerkleProof;
}

export class Chain {
  readonly genesis: Genesis;
  readonly chainId: number;
  readonly genesisHeader: Header;
  readonly maxBlockTxs: number;
  readonly store: BlockStore;
  #kv: MemoryKv;
  readonly #log: ChainLogger;
  #head: ChainHead;
  readonly #checks = new Map<Hex, BlockCheck>();
  #checkedObjects = new WeakMap<Block, BlockCheck>();
  readonly #listeners = new Set<(block: CommittedBlock) => void>();
  /** Every validator set the schedule ever held, by hash (light clients ask for them by hash). */
  readonly #knownSets = new Map<Hex, ValidatorSet>();
  /** State versions of the last `stateHistory` heights (structurally shared: each costs only its block's touched paths). */
  readonly #states = new Map<number, StateSnapshot>();
  readonly stateHistory: number;
  /** The height whose state the store's state table holds (it trails the head by stateHistory - 1). */
  #storedStateHeight = 0;
  /** What each height above #storedStateHeight changed, until the state table takes it. */
  readonly #unstoredChanges = new Map<number, readonly KvChange[]>();
  /** How many blocks the last `open` re-executed (the rest came from the state table). */
  #replayed = 0;

  private constructor(opts: ChainOptions) {
    this.genesis = opts.genesis;
    this.chainId = opts.genesis.chainId;
    this.maxBlockTxs = opts.maxBlockTxs ?? DEFAULT_MAX_BLOCK_TXS;
    this.store = opts.store;
    this.#log = opts.log ?? quietLogger;
    this.#kv = genesisState(opts.genesis);
    this.genesisHeader = genesisHeader(opts.genesis, toHex(this.#kv.root()));
    this.#head = { header: this.genesisHeader, hash: hashHeader(this.genesisHeader), commit: null };
    this.stateHistory = opts.stateHistory ?? DEFAULT_STATE_HISTORY;
    if (!Number.isSafeInteger(this.stateHistory) || this.stateHistory < 1) throw new RangeError(`stateHistory: expected a positive integer, got ${String(opts.stateHistory)}`);
    this.#states.set(0, this.#kv.snapshot());
    this.rememberSets();
  }

  /**
   * Opens the chain over `store`: the state table's state (its root checked against its
   * block's header), then every later stored block re-executed (roots re-checked), so a
   * restart costs the state's size plus at most stateHistory - 1 blocks, not the chain's
   * length. A store without a state table (written by an earlier version), or whose table
   * does not match its header, is replayed from genesis and its table written anew.
   */
  static open(opts: ChainOptions): Chain {
    const chain = new Chain(opts);
    const store = opts.store;
    store.bindGenesis(chain.#head.hash);
    const last = store.lastHeight();
    const saved = store.loadState();
    let restored = false;
    if (saved && saved.height <= last) {
      restored = chain.restore(saved.height, saved.pairs);
      if (!restored) chain.#log.error("stored state does not match its block's stateRoot: replaying from genesis", { height: saved.height });
    } else if (saved) {
      chain.#log.error("stored state is ahead of the stored blocks: replaying from genesis", { stateHeight: saved.height, blocks: last });
    }
    for (let h = chain.height + 1; h <= last; h++) {
      const block = store.getBlock(h);
      if (!block) throw new StoreError(store.path, `block ${h} missing`);
      const check = chain.check(block);
      if (!check.ok) throw new StoreError(store.path, `block ${h} does not replay: ${check.reason}`);
      if (check.hash !== block.hash) throw new StoreError(store.path, `block ${h}: stored hash differs from the header's`);
      // Signatures were verified before the block was stored; replay re-derives state only.
      chain.apply(block, check.execution);
      chain.#replayed++;
    }
    if (!restored) {
      // First open of this store (or a rebuild): the table takes the head's state.
      store.replaceState(chain.height, chain.#kv.pairs(), [...chain.#knownSets.values()].map(storedSet));
      chain.#storedStateHeight = chain.height;
      chain.#unstoredChanges.clear();
    }
    if (last > 0) chain.#log.info("opened chain", { height: last, fromStoredState: restored ? saved!.height : null, replayed: chain.#replayed, stateRoot: chain.#head.header.stateRoot });
    return chain;
  }

  /** Takes the state after block `height` from the store; false when its root is not that block's stateRoot. */
  private restore(height: number, pairs: readonly { key: Uint8Array; value: Uint8Array }[]): boolean {
    const kv = MemoryKv.fromPairs(pairs);
    const anchor = height === 0 ? this.#head : this.store.getBlock(height);
    if (!anchor) throw new StoreError(this.store.path, `block ${height} missing`);
    if (toHex(kv.root()) !== anchor.header.stateRoot) return false;
    this.#kv = kv;
    this.#head = { header: anchor.header, hash: anchor.hash, commit: anchor.commit };
    this.#states.clear();
    this.#states.set(height, kv.snapshot());
    this.#storedStateHeight = height;
    for (const json of this.store.validatorSets()) {
      const set = parseStoredSet(this.store.path, json);
      this.#knownSets.set(hashValidatorSet(set), set);
    }
    this.rememberSets();
    return true;
  }

  /** Blocks the last `open` re-executed (at most stateHistory - 1 once the state table exists). */
  get replayedOnOpen(): number {
    return this.#replayed;
  }

  get height(): number {
    return this.#head.header.height;
  }

  get head(): ChainHead {
    return this.#head;
  }

  /** Committed state, read-only by convention (write only through commit). */
  get kv(): MemoryKv {
    return this.#kv;
  }

  get state(): LedgerState {
    return new LedgerState(this.#kv);
  }

  /**
   * The validator set that signs `height`, for heights from a few below the head (the
   * schedule keeps what evidence may still need) up to head + 2 (set changes decided in
   * block H sign from H + 2).
   */
  validatorSetAt(height: number): ValidatorSet {
    if (height > this.height + 2) throw new RangeError(`validator set of height ${height} is not decided yet (head ${this.height})`);
    return validatorSetAt(this.#kv, height);
  }

  /** The set that signs the next block. */
  get validatorSet(): ValidatorSet {
    return this.validatorSetAt(this.height + 1);
  }

  /** Every deterministic validity rule for the next block (timeliness is consensus's business). Cached by hash. */
  check(block: Block): BlockCheck {
    // Consensus re-evaluates the same proposal object on every message: skip even the txRoot.
    const seen = this.#checkedObjects.get(block);
    if (seen) return seen;
    const result = this.checkByHash(block);
    this.#checkedObjects.set(block, result);
    return result;
  }

  private checkByHash(block: Block): BlockCheck {
    const h = block.header;
    const computedTxRoot = blockTxRoot(block.txs);
    if (computedTxRoot !== h.txRoot) return { ok: false, reason: "txRoot does not match the transactions" };
    const hash = hashHeader(h);
    const cached = this.#checks.get(hash);
    if (cached) return cached;
    const result = this.checkUncached(block, hash, computedTxRoot);
    this.#checks.set(hash, result);
    return result;
  }

  private checkUncached(block: Block, hash: Hex, txRoot: Hex): BlockCheck {
    const h = block.header;
    const prev = this.#head.header;
    if (h.chainId !== this.chainId) return { ok: false, reason: `chainId ${h.chainId} is not ${this.chainId}` };
    if (h.height !== prev.height + 1) return { ok: false, reason: `height ${h.height} does not follow ${prev.height}` };
    if (h.prevHash !== this.#head.hash) return { ok: false, reason: "prevHash is not the last block's hash" };
    const set = this.validatorSetAt(h.height);
    if (h.validatorsHash !== hashValidatorSet(set)) return { ok: false, reason: "validatorsHash is not the validator set of this height" };
    if (h.nextValidatorsHash !== hashValidatorSet(this.validatorSetAt(h.height + 1))) return { ok: false, reason: "nextValidatorsHash is not the validator set of the next height" };
    if (stakeOf(set, h.proposer) === undefined) return { ok: false, reason: `proposer ${h.proposer} is not a validator` };
    if (prev.height === 0) {
      if (block.lastCommit !== null) return { ok: false, reason: "block 1 carries a lastCommit" };
    } else {
      // Block time is agreed, not proposed: the stake-weighted median of the lastCommit's precommit times.
      if (!block.lastCommit) return { ok: false, reason: "lastCommit missing" };
      const last = verifyCommit(prev, block.lastCommit, this.validatorSetAt(prev.height), { recover: recoverSigner });
      if (!last.ok) return { ok: false, reason: `lastCommit: ${last.reason}` };
      if (h.timeMs !== last.medianTimeMs) return { ok: false, reason: `time ${h.timeMs} is not the lastCommit's median precommit time ${last.medianTimeMs}` };
    }
    if (h.timeMs <= prev.timeMs) return { ok: false, reason: `time ${h.timeMs} is not after the previous block's ${prev.timeMs}` };
    if (block.txs.length > this.maxBlockTxs) return { ok: false, reason: `${block.txs.length} txs, limit ${this.maxBlockTxs}` };
    const exec = executeBlock(this.#kv, block.txs, { chainId: this.chainId, height: h.height, timeMs: h.timeMs }, txRoot);
    if (!exec.ok) return exec;
    if (exec.resultsRoot !== h.resultsRoot) return { ok: false, reason: "resultsRoot does not match re-execution" };
    if (exec.stateRoot !== h.stateRoot) return { ok: false, reason: "stateRoot does not match re-execution" };
    return { ok: true, hash, execution: exec };
  }

  /**
   * Builds the next block from `candidates` (inadmissible ones are skipped and reported).
   * Its time is `timeMs` at height 1 only; later it is the stake-weighted median precommit
   * time of `lastCommit` (default: the head's own commit), which the block carries.
   */
  propose(candidates: readonly Uint8Array[], timeMs: number, proposer: Hex, lastCommit: Commit | null = this.#head.commit): { block: Block; skipped: readonly SkippedTx[] } {
    const prev = this.#head;
    const height = prev.header.height + 1;
    if (prev.header.height > 0) {
      if (!lastCommit) throw new Error(`propose: no commit for block ${prev.header.height}`);
      const last = verifyCommit(prev.header, lastCommit, this.validatorSetAt(prev.header.height), { recover: recoverSigner });
      if (!last.ok) throw new Error(`propose: lastCommit does not verify: ${last.reason}`);
      timeMs = last.medianTimeMs;
    } else {
      lastCommit = null;
    }
    const exec = buildBlockExecution(this.#kv, candidates, { chainId: this.chainId, height, timeMs }, this.maxBlockTxs);
    const header: Header = {
      chainId: this.chainId,
      height,
      timeMs,
      prevHash: prev.hash,
      txRoot: exec.txRoot,
      resultsRoot: exec.resultsRoot,
      stateRoot: exec.stateRoot,
      validatorsHash: hashValidatorSet(this.validatorSetAt(height)),
      nextValidatorsHash: hashValidatorSet(this.validatorSetAt(height + 1)),
      proposer,
    };
    const block: Block = { header, txs: exec.txs, lastCommit };
    this.#checks.set(hashHeader(header), { ok: true, hash: hashHeader(header), execution: exec });
    return { block, skipped: exec.skipped };
  }

  /**
   * Makes `block` final: it must pass `check` and `commit` must verify against the
   * validator set. Persists before applying (save before acting). Throws on either failure.
   */
  commit(block: Block, commit: Commit): CommittedBlock {
    const check = this.check(block);
    if (!check.ok) throw new Error(`commit of invalid block ${block.header.height}: ${check.reason}`);
    const verified = verifyCommit(block.header, commit, this.validatorSetAt(block.header.height), { recover: recoverSigner });
    if (!verified.ok) throw new Error(`commit of block ${block.header.height} does not verify: ${verified.reason}`);
    const committed: CommittedBlock = {
      header: block.header,
      txs: block.txs,
      lastCommit: block.lastCommit,
      hash: check.hash,
      commit,
      outcomes: check.execution.outcomes.map((o) => o.encoded),
    };
    const changes = changesOf(check.execution.overlay.writes);
    const advance = this.stateAdvance(block.header.height, changes);
    this.store.putBlock(committed, check.execution.outcomes.map((o) => o.tx.hash), advance, this.newSets(check.execution.overlay));
    this.apply(committed, check.execution, changes);
    for (const a of advance) this.#unstoredChanges.delete(a.height);
    if (advance.length > 0) this.#storedStateHeight = advance[advance.length - 1]!.height;
    for (const listener of this.#listeners) {
      try {
        listener(committed);
      } catch (err) {
        this.#log.error("commit listener failed", { error: (err as Error).message });
      }
    }
    return committed;
  }

  /**
   * The state table's advance that goes with storing block `height`: every stored-but-not-yet-
   * tabled height up to height - (stateHistory - 1), in order (one per block once steady).
   */
  private stateAdvance(height: number, changes: readonly KvChange[]): StateAdvance[] {
    const upTo = height - (this.stateHistory - 1);
    const out: StateAdvance[] = [];
    for (let h = this.#storedStateHeight + 1; h <= upTo; h++) {
      const c = h === height ? changes : this.#unstoredChanges.get(h);
      if (!c) throw new Error(`state changes of height ${h} are not at hand (stored state at ${this.#storedStateHeight})`);
      out.push({ height: h, changes: c });
    }
    return out;
  }

  /** Validator sets the block's post-state schedules that the store has not seen. */
  private newSets(post: { get(key: Uint8Array): Uint8Array | undefined }): StoredValidatorSet[] {
    const out: StoredValidatorSet[] = [];
    for (const e of readSchedule(post)) {
      const hash = hashValidatorSet(e.set);
      if (!this.#knownSets.has(hash)) out.push(storedSet(e.set));
    }
    return out;
  }

  /** Makes `block`'s execution the committed state; its changes wait for the state table. */
  private apply(block: CommittedBlock, execution: BlockExecution, changes: readonly KvChange[] = changesOf(execution.overlay.writes)): void {
    this.#unstoredChanges.set(block.header.height, changes);
    execution.overlay.commit();
    this.#states.set(block.header.height, this.#kv.snapshot());
    // Heights ascend in the map; after a reopen with a smaller stateHistory several fall out at once.
    for (const h of this.#states.keys()) {
      if (h > block.header.height - this.stateHistory) break;
      this.#states.delete(h);
    }
    this.#head = { header: block.header, hash: block.hash, commit: block.commit };
    this.#checks.clear();
    this.#checkedObjects = new WeakMap();
    this.rememberSets();
  }

  private rememberSets(): void {
    for (const e of readSchedule(this.#kv)) {
      const hash = hashValidatorSet(e.set);
      if (!this.#knownSets.has(hash)) this.#knownSets.set(hash, e.set);
    }
  }

  /** A validator set this chain has used or scheduled, by its hash (what headers name). */
  validatorSetByHash(hash: Hex): ValidatorSet | undefined {
    return this.#knownSets.get(hash.toLowerCase() as Hex);
  }

  /** Called synchronously after each commit, in commit order. Returns an unsubscribe function. */
  onCommit(listener: (block: CommittedBlock) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // --- queries ------------------------------------------------------------------------------

  block(height: number): CommittedBlock | undefined {
    if (height < 1 || height > this.height) return undefined;
    return this.store.getBlock(height);
  }

  txLocation(hash: Hex): TxLocation | undefined {
    return this.store.txLocation(hash);
  }

  assets(): AssetRecord[] {
    return this.#kv.scan(Uint8Array.of(STATE_KEY_PREFIX.asset)).map((e) => {
      const d = decodeAsset(e.value);
      if (!d.ok) throw new Error(`corrupt state: asset: ${d.reason}`);
      return d.value;
    });
  }

  account(address: Hex): AccountView {
    const state = this.state;
    const prefix = concatBytes(Uint8Array.of(STATE_KEY_PREFIX.balance), fromHex(address, "address", 20));
    const balances = this.#kv.scan(prefix).map((e) => {
      const asset = new TextDecoder().decode(e.key.subarray(prefix.length));
      const d = decodeBalance(e.value);
      if (!d.ok) throw new Error(`corrupt state: balance: ${d.reason}`);
      return { asset, amount: d.value };
    });
    return { address, nonce: state.nonce(address), balances };
  }

  balance(address: Hex, asset: string): bigint {
    const bytes = this.#kv.get(balanceKey(address, asset));
    if (!bytes) return 0n;
    const d = decodeBalance(bytes);
    if (!d.ok) throw new Error(`corrupt state: balance: ${d.reason}`);
    return d.value;
  }

  /**
   * The lock's encoded record and its proof against the head's stateRoot, or a proof that
   * there is no such lock, with the head's header and commit; undefined at genesis (no commit).
   */
  lockAtHead(lockId: Hex): LockAtHead | LockAbsentAtHead | undefined {
    return this.stateAt(lockKey(lockId), this.height);
  }

  /**
   * The oldest height whose state `stateAt` can still prove (the head is the newest): the last
   * stateHistory heights, but not before the state this process started from (a reopen with
   * a larger stateHistory has only the heights from the state table's on).
   */
  get oldestProvableHeight(): number {
    const oldestKept = this.#states.keys().next().value ?? this.height;
    return Math.max(1, this.height - this.stateHistory + 1, oldestKept);
  }

  /** How many heights' state versions are held in memory (at most stateHistory). */
  get keptStateHeights(): number {
    return this.#states.size;
  }

  /**
   * `key` in the state after block `height`, with its proof (or the proof it is absent) and
   * that block's header and commit; undefined outside oldestProvableHeight..height (genesis
   * has no commit to anchor a proof).
   */
  stateAt(key: Uint8Array, height: number): StateAtHeight | undefined {
    if (!Number.isSafeInteger(height) || height < this.oldestProvableHeight || height > this.height) return undefined;
    const state = this.#states.get(height);
    const anchor = height === this.height ? this.#head : this.block(height);
    if (!state || !anchor?.commit) return undefined;
    const { header, commit } = anchor;
    const value = state.get(key);
    if (value) return { found: true, value, proof: state.proof(key)!, header, commit };
    const absence = state.absenceProof(key);
    if (!absence) throw new Error("state has neither the key nor an absence proof for it");
    return { found: false, absence, header, commit };
  }

  /** Every event of a committed block with its proof against the block's resultsRoot. */
  provenEvents(block: CommittedBlock): ProvenEvent[] {
    const tree = KvMerkleTree.build(CONSORTIUM_SCHEME.merkle, resultsEntries(block.outcomes));
    const out: ProvenEvent[] = [];
    block.outcomes.forEach((o, txIndex) =>
      o.events.forEach((value, eventIndex) => {
        out.push({ txIndex, eventIndex, value, proof: tree.proof(resultKey(txIndex, eventIndex + 1))! });
      }),
    );
    return out;
  }
}

function storedSet(set: ValidatorSet): StoredValidatorSet {
  return { hash: hashValidatorSet(set), json: JSON.stringify(set.validators.map((v) => ({ address: v.address, stake: v.stake.toString() }))) };
}

function parseStoredSet(path: string, json: string): ValidatorSet {
  try {
    const list = JSON.parse(json) as { address: string; stake: string }[];
    return makeValidatorSet(list.map((v) => ({ address: v.address, stake: BigInt(v.stake) })));
  } catch (err) {
    throw new StoreError(path, `stored validator set does not parse: ${(err as Error).message}`);
  }
}
