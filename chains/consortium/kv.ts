/**
 * The state's key-value store and its Merkle commitment (proofs/merkle.ts key-value trees).
 * MemoryKv holds committed state and caches leaf hashes and the built tree, so an unchanged
 * state costs nothing to re-root and a proof costs O(log n). KvOverlay buffers writes on
 * top of another store: a block (or a single tx) executes in one and is merged on success.
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { KECCAK256_RFC6962, type KvAbsenceProof, type KvNeighbor, MerkleTree, hashKvLeaf, type MerkleProof } from "../../proofs/merkle.ts";

const SCHEME = KECCAK256_RFC6962;

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

interface Entry extends KvPair {
  readonly leaf: Uint8Array;
}

/** Hex of the key bytes: string order on it is bytewise key order, as the tree needs. */
function idOf(key: Uint8Array): string {
  return bytesToHex(key);
}

export class MemoryKv implements KvStore, KvScan {
  readonly #entries = new Map<string, Entry>();
  #sorted: string[] | null = null;
  #tree: MerkleTree | null = null;

  get size(): number {
    return this.#entries.size;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.#entries.get(idOf(key))?.value;
  }

  set(key: Uint8Array, value: Uint8Array): void {
    const id = idOf(key);
    if (!this.#entries.has(id)) this.#sorted = null;
    this.#entries.set(id, { key: key.slice(), value: value.slice(), leaf: hashKvLeaf(SCHEME, key, value) });
    this.#tree = null;
  }

  delete(key: Uint8Array): void {
    if (this.#entries.delete(idOf(key))) {
      this.#sorted = null;
      this.#tree = null;
    }
  }

  apply(writes: KvWrites): void {
    for (const [, w] of writes) {
      if (w) this.set(w.key, w.value);
    }
    for (const [id, w] of writes) {
      if (!w && this.#entries.delete(id)) {
        this.#sorted = null;
        this.#tree = null;
      }
    }
  }

  root(): Uint8Array {
    return this.tree().root;
  }

  /** Root the store would have after `writes`, without applying them. */
  rootWith(writes: KvWrites): Uint8Array {
    if (writes.size === 0) return this.root();
    const kept = this.sortedIds().filter((id) => !writes.has(id));
    const added = [...writes].filter(([, w]) => w !== null).map(([id]) => id).sort();
    const ids = mergeSorted(kept, added);
    const leaves = ids.map((id) => {
      const w = writes.get(id);
      return w ? hashKvLeaf(SCHEME, w.key, w.value) : this.#entries.get(id)!.leaf;
    });
    return MerkleTree.fromLeafHashes(SCHEME, leaves).root;
  }

  proof(key: Uint8Array): MerkleProof | undefined {
    const ids = this.sortedIds();
    const at = lowerBound(ids, idOf(key));
    return ids[at] === idOf(key) ? this.tree().proof(at) : undefined;
  }

  /** Non-inclusion proof for `key` (its adjacent leaves), or undefined when the store has it. */
  absenceProof(key: Uint8Array): KvAbsenceProof | undefined {
    const ids = this.sortedIds();
    const id = idOf(key);
    const at = lowerBound(ids, id);
    if (ids[at] === id) return undefined;
    const neighbor = (i: number): KvNeighbor | null => {
      if (i < 0 || i >= ids.length) return null;
      const e = this.#entries.get(ids[i]!)!;
      return { key: e.key, valueHash: SCHEME.hash(e.value), proof: this.tree().proof(i) };
    };
    return { leafCount: ids.length, left: neighbor(at - 1), right: neighbor(at) };
  }

  /** Entries whose key starts with `prefix`, in key order. */
  scan(prefix: Uint8Array): KvPair[] {
    const ids = this.sortedIds();
    const p = idOf(prefix);
    const out: KvPair[] = [];
    for (let i = lowerBound(ids, p); i < ids.length && ids[i]!.startsWith(p); i++) {
      const e = this.#entries.get(ids[i]!)!;
      out.push({ key: e.key, value: e.value });
    }
    return out;
  }

  private sortedIds(): string[] {
    this.#sorted ??= [...this.#entries.keys()].sort();
    return this.#sorted;
  }

  private tree(): MerkleTree {
    this.#tree ??= MerkleTree.fromLeafHashes(SCHEME, this.sortedIds().map((id) => this.#entries.get(id)!.leaf));
    return this.#tree;
  }
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

function lowerBound(sorted: readonly string[], target: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function mergeSorted(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]! < b[j]!)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}
