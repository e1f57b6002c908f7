/**
 * The state's key-value store and its Merkle commitment: a compact sparse Merkle tree over
 * keccak256(key) paths (proofs/sparse-merkle.ts). MemoryKv holds committed state; a write
 * rehashes only its O(log n) path, and `rootWith` builds the next version beside the committed
 * one (persistent nodes, shared structure) without touching it. Key order, which the tree
 * does not keep, comes from a separate ordered index for `scan`. KvOverlay buffers writes on
 * top of another store: a block (or a single tx) executes in one and is merged on success.
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { KECCAK256_SPARSE, type SparseAbsenceProof, SparseMerkleTree, type SparseProof, type SparseWrite } from "../../proofs/sparse-merkle.ts";
import { SortedKeys } from "./sorted-keys.ts";

const SCHEME = KECCAK256_SPARSE;

export interface KvReader {
  get(key: Uint8Array): Uint8Array | undefined;
}

export interface KvStore extends KvReader {
  set(key: Uint8Array, value: Uint8Array): void;
  delete(key: Uint8Array): void;
}

/** Entries by key prefix, in key order (staking enumerates a validator's delegations with it). */
export interface KvScan {
  scan(prefix: Uint8Array): KvPair[];
}

export interface KvPair {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/** A pending write: the new pair, or null for a deletion. Keyed by lower-case hex of the key. */
export type KvWrites = ReadonlyMap<string, KvPair | null>;

/** One write as data: the key and its new value, or null for a deletion. */
export interface KvChange {
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
}

/** `writes` as a list of changes (what a block did to the state, for the store). */
export function changesOf(writes: KvWrites): KvChange[] {
  const out: KvChange[] = [];
  for (const [id, w] of writes) out.push(w ? { key: w.key, value: w.value } : { key: hexToKey(id), value: null });
  return out;
}

/** Hex of the key bytes: string order on it is bytewise key order, as `scan` needs. */
function idOf(key: Uint8Array): string {
  return bytesToHex(key);
}

/** The state committed at one moment: its root and proofs, unaffected by later writes. */
export class StateSnapshot {
  readonly #tree: SparseMerkleTree<KvPair>;

  constructor(tree: SparseMerkleTree<KvPair>) {
    this.#tree = tree;
  }

  root(): Uint8Array {
    return this.#tree.root;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    const found = this.#tree.lookup(SCHEME.hash(key));
    return found.found ? found.leaf.payload.value : undefined;
  }

  proof(key: Uint8Array): SparseProof | undefined {
    const found = this.#tree.lookup(SCHEME.hash(key));
    return found.found ? found.proof : undefined;
  }

  absenceProof(key: Uint8Array): SparseAbsenceProof | undefined {
    const found = this.#tree.lookup(SCHEME.hash(key));
    return found.found ? undefined : found.absence;
  }
}

/**
 * A tree version computed by `rootWith`, kept so that applying the same writes reuses it.
 * A few are kept: a validator may check other proposals (or rounds) before committing one.
 */
const MAX_PREPARED = 4;

interface Prepared {
  readonly base: SparseMerkleTree<KvPair>;
  readonly writes: KvWrites;
  readonly seen: readonly (readonly [string, KvPair | null])[];
  readonly tree: SparseMerkleTree<KvPair>;
}

export class MemoryKv implements KvStore, KvScan {
  readonly #entries = new Map<string, KvPair>();
  readonly #order = new SortedKeys();
  #tree = SparseMerkleTree.empty<KvPair>(SCHEME);
  #prepared: Prepared[] = [];

  /** A store holding exactly `pairs` (owned by the store from now on), its tree built in one pass. */
  static fromPairs(pairs: Iterable<KvPair>): MemoryKv {
    const kv = new MemoryKv();
    const writes = new Map<string, KvPair>();
    for (const p of pairs) writes.set(idOf(p.key), p);
    kv.apply(writes);
    return kv;
  }

  /** Every entry, in no particular order (the pairs are the store's: do not change them). */
  pairs(): IterableIterator<KvPair> {
    return this.#entries.values();
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.#entries.get(idOf(key))?.value;
  }

  set(key: Uint8Array, value: Uint8Array): void {
    this.apply(new Map([[idOf(key), { key: key.slice(), value: value.slice() }]]));
  }

  delete(key: Uint8Array): void {
    this.apply(new Map([[idOf(key), null]]));
  }

  /** Applies `writes`, whose pairs the store keeps (callers hand over buffers they no longer change). */
  apply(writes: KvWrites): void {
    if (writes.size === 0) return;
    const p = this.#prepared.find((x) => x.base === this.#tree && x.writes === writes && sameWrites(x.seen, writes));
    const tree = p ? p.tree : this.#tree.update(toSparseWrites(writes));
    for (const [id, w] of writes) {
      if (w) {
        this.#entries.set(id, w);
        this.#order.insert(id);
      } else if (this.#entries.delete(id)) {
        this.#order.delete(id);
      }
    }
    this.#tree = tree;
    this.#prepared = [];
  }

  root(): Uint8Array {
    return this.#tree.root;
  }

  /** Root the store would have after `writes`, without applying them: O(k log n) hashes for k writes. */
  rootWith(writes: KvWrites): Uint8Array {
    if (writes.size === 0) return this.root();
    const tree = this.#tree.update(toSparseWrites(writes));
    this.#prepared = [{ base: this.#tree, writes, seen: [...writes], tree }, ...this.#prepared.filter((x) => x.writes !== writes)].slice(0, MAX_PREPARED);
    return tree.root;
  }

  /** Inclusion proof for `key`, or undefined when the store does not have it. */
  proof(key: Uint8Array): SparseProof | undefined {
    return this.snapshot().proof(key);
  }

  /** Non-inclusion proof for `key`, or undefined when the store has it. */
  absenceProof(key: Uint8Array): SparseAbsenceProof | undefined {
    return this.snapshot().absenceProof(key);
  }

  /** The current state as an immutable version (O(1): later writes build new nodes beside it). */
  snapshot(): StateSnapshot {
    return new StateSnapshot(this.#tree);
  }

  /** Entries whose key starts with `prefix`, in key order. */
  scan(prefix: Uint8Array): KvPair[] {
    const p = idOf(prefix);
    const out: KvPair[] = [];
    for (const id of this.#order.from(p)) {
      if (!id.startsWith(p)) break;
      out.push(this.#entries.get(id)!);
    }
    return out;
  }
}

/**
 * Leaves carry the written pair itself (shared with the entry map; writers hand over owned
 * copies, see `set` and KvOverlay), so a snapshot can answer `get` and proofs on its own.
 */
function toSparseWrites(writes: KvWrites): SparseWrite<KvPair>[] {
  const out: SparseWrite<KvPair>[] = [];
  for (const [id, w] of writes) {
    const keyHash = SCHEME.hash(w ? w.key : hexToKey(id));
    out.push(w ? { keyHash, valueHash: SCHEME.hash(w.value), payload: w } : { keyHash, valueHash: null });
  }
  return out;
}

/** True when `writes` still holds exactly the pairs seen earlier (overlays replace pair objects on every set). */
function sameWrites(seen: readonly (readonly [string, KvPair | null])[], writes: KvWrites): boolean {
  if (seen.length !== writes.size) return false;
  for (const [id, w] of seen) if (writes.get(id) !== w) return false;
  return true;
}

/** Buffered writes over a base store; `commit` pushes them down, dropping the overlay discards them. */
export class KvOverlay implements KvStore, KvScan {
  readonly #base: KvStore;
  readonly #writes = new Map<string, KvPair | null>();

  constructor(base: KvStore) {
    this.#base = base;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    const w = this.#writes.get(idOf(key));
    if (w !== undefined) return w?.value;
    return this.#base.get(key);
  }

  set(key: Uint8Array, value: Uint8Array): void {
    this.#writes.set(idOf(key), { key: key.slice(), value: value.slice() });
  }

  delete(key: Uint8Array): void {
    this.#writes.set(idOf(key), null);
  }

  /** The base's entries under `prefix` with this overlay's writes applied. */
  scan(prefix: Uint8Array): KvPair[] {
    const base = this.#base as KvStore & Partial<KvScan>;
    if (typeof base.scan !== "function") throw new Error("KvOverlay.scan: the base store cannot scan");
    const p = idOf(prefix);
    const merged = new Map<string, KvPair>();
    for (const e of base.scan(prefix)) merged.set(idOf(e.key), e);
    for (const [id, w] of this.#writes) {
      if (!id.startsWith(p)) continue;
      if (w) merged.set(id, w);
      else merged.delete(id);
    }
    return [...merged.keys()].sort().map((id) => merged.get(id)!);
  }

  get writes(): KvWrites {
    return this.#writes;
  }

  child(): KvOverlay {
    return new KvOverlay(this);
  }

  commit(): void {
    if (this.#base instanceof MemoryKv) {
      this.#base.apply(this.#writes);
    } else if (this.#base instanceof KvOverlay) {
      // Hand the owned pairs over as they are (no second copy, no second key hex).
      for (const [id, w] of this.#writes) this.#base.#writes.set(id, w);
    } else {
      for (const [, w] of this.#writes) {
        if (w) this.#base.set(w.key, w.value);
      }
      for (const [id, w] of this.#writes) {
        if (!w) this.#base.delete(hexToKey(id));
      }
    }
    this.#writes.clear();
  }

  /** State root of base + writes; only for an overlay directly over committed state. */
  root(): Uint8Array {
    if (!(this.#base instanceof MemoryKv)) throw new Error("KvOverlay.root: base is not a MemoryKv");
    return this.#base.rootWith(this.#writes);
  }
}

function hexToKey(id: string): Uint8Array {
  const out = new Uint8Array(id.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(id.slice(2 * i, 2 * i + 2), 16);
  return out;
}
