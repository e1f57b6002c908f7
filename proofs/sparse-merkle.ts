/**
 * A compact binary sparse Merkle tree over key-value maps (the binary form of Diem's
 * Jellyfish / Libra sparse Merkle tree), generic over the hash.
 *
 * Every key sits on the 256-bit path keyHash = HASH(key), most significant bit first, 0 = left.
 * A subtree that holds no entry is EMPTY (32 zero bytes, not a hash), and a subtree that
 * holds exactly one entry is that entry's leaf, placed at the shallowest depth where its
 * path is no longer shared:
 *   leaf  = HASH(leafPrefix || keyHash || valueHash)      valueHash = HASH(value)
 *   node  = HASH(nodePrefix || left || right)
 *   empty = 0x00…00
 * So a node never has one leaf child and one empty child (it would collapse into the leaf),
 * the tree has about log2(n) levels for n keys, and a write rehashes only its path. The
 * tree is canonical: the root depends on the set of entries, not on the order of writes.
 *
 * Inclusion proof: the siblings along the key's path, from the leaf's level up to the root
 * (empty siblings as the zero constant). Non-inclusion proof: the siblings down to where the
 * key's path ends, plus what is there — an empty subtree, or a leaf of ANOTHER key whose path
 * shares the prefix; either way the key would have to be in that subtree and is not.
 *
 * Trees are persistent: an update returns a new root sharing every untouched node with the
 * old one, so keeping several versions costs only the touched paths.
 *
 * Pure: no I/O and no imports of other Isthmus code. Misuse (wrong argument types) throws;
 * untrusted proof data makes `verify*` return `{ ok: false, reason }`.
 */
import { keccak256 } from "./keccak.ts";
import type { MerkleScheme } from "./merkle.ts";

/** keccak-256 sparse trees (EVM-verifiable), the consortium chain's state commitment. */
export const KECCAK256_SPARSE: MerkleScheme = Object.freeze({
  name: "keccak256-sparse",
  hash: keccak256,
  hashLength: 32,
  leafPrefix: 0x00,
  nodePrefix: 0x01,
});

/** The longest path: keyHash has 256 bits. */
export const SPARSE_MAX_DEPTH = 256;

/** Inclusion: siblings from the leaf's level upwards; their count is the leaf's depth. */
export interface SparseProof {
  readonly siblings: readonly Uint8Array[];
}

/** Non-inclusion: the key's path ends at an empty subtree, or at the leaf of another key. */
export type SparseAbsenceProof =
  | { readonly kind: "empty"; readonly siblings: readonly Uint8Array[] }
  | { readonly kind: "leaf"; readonly keyHash: Uint8Array; readonly valueHash: Uint8Array; readonly siblings: readonly Uint8Array[] };

export type SparseVerifyResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** One write of a batch: set (with what the leaf carries) or delete, by key hash. */
export type SparseWrite<P> =
  | { readonly keyHash: Uint8Array; readonly valueHash: Uint8Array; readonly payload: P }
  | { readonly keyHash: Uint8Array; readonly valueHash: null };

export interface SparseLeaf<P> {
  readonly kind: "leaf";
  readonly keyHash: Uint8Array;
  readonly valueHash: Uint8Array;
  /** Caller data kept with the leaf (for example the key and value), never hashed. */
  readonly payload: P;
  readonly hash: Uint8Array;
}

export interface SparseBranch<P> {
  readonly kind: "branch";
  readonly left: SparseNode<P> | null;
  readonly right: SparseNode<P> | null;
  readonly hash: Uint8Array;
}

export type SparseNode<P> = SparseLeaf<P> | SparseBranch<P>;

/** What a lookup found: the leaf with its proof, or the proof that the key is absent. */
export type SparseLookup<P> =
  | { readonly found: true; readonly leaf: SparseLeaf<P>; readonly proof: SparseProof }
  | { readonly found: false; readonly absence: SparseAbsenceProof };

/** An immutable tree version; `update` returns a new one and leaves this one intact. */
export class SparseMerkleTree<P = undefined> {
  readonly scheme: MerkleScheme;
  readonly top: SparseNode<P> | null;
  /** Hashes computed to build this version from the one it was updated from (a cost meter). */
  readonly hashesComputed: number;

  private constructor(scheme: MerkleScheme, top: SparseNode<P> | null, hashesComputed: number) {
    this.scheme = scheme;
    this.top = top;
    this.hashesComputed = hashesComputed;
  }

  static empty<P = undefined>(scheme: MerkleScheme): SparseMerkleTree<P> {
    if (scheme.hashLength !== 32) throw new TypeError(`scheme ${scheme.name}: a sparse Merkle tree needs a 32-byte hash`);
    return new SparseMerkleTree<P>(scheme, null, 0);
  }

  get root(): Uint8Array {
    return this.top ? this.top.hash : emptyHash();
  }

  /**
   * The tree after `writes` (at most one per key hash; deleting an absent key is a no-op).
   * Each node on a touched path is rebuilt once however many writes pass through it.
   */
  update(writes: Iterable<SparseWrite<P>>): SparseMerkleTree<P> {
    const sorted = [...writes];
    sorted.forEach((w, i) => {
      assertBytes(w.keyHash, `writes[${i}].keyHash`, 32);
      if (w.valueHash !== null) assertBytes(w.valueHash, `writes[${i}].valueHash`, 32);
    });
    if (sorted.length === 0) return this;
    sorted.sort((a, b) => compareBytes(a.keyHash, b.keyHash));
    for (let i = 1; i < sorted.length; i++) {
      if (compareBytes(sorted[i - 1]!.keyHash, sorted[i]!.keyHash) === 0) throw new Error("writes: two writes to one key hash");
    }
    const builder = new Builder<P>(this.scheme);
    const top = builder.update(this.top, 0, sorted, 0, sorted.length);
    return new SparseMerkleTree(this.scheme, top, builder.hashes);
  }

  /** The leaf of `keyHash` with its proof, or an absence proof. O(depth). */
  lookup(keyHash: Uint8Array): SparseLookup<P> {
    assertBytes(keyHash, "keyHash", 32);
    const path: Uint8Array[] = [];
    let node = this.top;
    let depth = 0;
    while (node?.kind === "branch") {
      const right = bit(keyHash, depth) === 1;
      path.push(hashOf(right ? node.left : node.right));
      node = right ? node.right : node.left;
      depth++;
    }
    const siblings = path.reverse();
    if (node === null) return { found: false, absence: { kind: "empty", siblings } };
    if (equalBytes(node.keyHash, keyHash)) return { found: true, leaf: node, proof: { siblings } };
    return { found: false, absence: { kind: "leaf", keyHash: node.keyHash, valueHash: node.valueHash, siblings } };
  }

  /** Every leaf, in key-hash order. */
  *leaves(): Generator<SparseLeaf<P>> {
    const stack: (SparseNode<P> | null)[] = [this.top];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node === null) continue;
      if (node.kind === "leaf") yield node;
      else stack.push(node.right, node.left);
    }
  }
}

/** Builds nodes for one update, counting the hashes it computes. */
class Builder<P> {
  hashes = 0;
  constructor(private readonly scheme: MerkleScheme) {}

  /** `node` (the subtree at `depth`) after writes[from, to), all of whose paths pass through it. */
  update(node: SparseNode<P> | null, depth: number, writes: readonly SparseWrite<P>[], from: number, to: number): SparseNode<P> | null {
    if (from === to) return node;
    if (node === null || node.kind === "leaf") {
      // Rebuild the subtree from its (at most one) old leaf and the writes: sets replace,
      // deletes remove, and the result is re-split from this depth down.
      const leaves: SparseLeaf<P>[] = [];
      let oldPlaced = node === null;
      for (let i = from; i < to; i++) {
        const w = writes[i]!;
        if (!oldPlaced) {
          const order = compareBytes(node!.keyHash, w.keyHash);
          if (order < 0) leaves.push(node!);
          if (order <= 0) oldPlaced = true; // equal: the write replaces or deletes the old leaf
        }
        if (w.valueHash !== null) leaves.push(this.leaf(w.keyHash, w.valueHash, (w as { payload: P }).payload));
      }
      if (!oldPlaced) leaves.push(node!);
      return this.build(depth, leaves, 0, leaves.length);
    }
    const split = splitAt(writes, depth, from, to);
    const left = this.update(node.left, depth + 1, writes, from, split);
    const right = this.update(node.right, depth + 1, writes, split, to);
    if (left === node.left && right === node.right) return node;
    return this.join(left, right);
  }

  /** The subtree at `depth` holding exactly leaves[from, to) (sorted by key hash). */
  private build(depth: number, leaves: readonly SparseLeaf<P>[], from: number, to: number): SparseNode<P> | null {
    if (from === to) return null;
    if (to - from === 1) return leaves[from]!;
    if (depth >= SPARSE_MAX_DEPTH) throw new Error("two leaves with one key hash");
    const split = splitAt(leaves, depth, from, to);
    return this.join(this.build(depth + 1, leaves, from, split), this.build(depth + 1, leaves, split, to));
  }

  /** A node from two children, collapsing a lone leaf upwards and an empty pair to empty. */
  private join(left: SparseNode<P> | null, right: SparseNode<P> | null): SparseNode<P> | null {
    if (left === null && (right === null || right.kind === "leaf")) return right;
    if (right === null && left!.kind === "leaf") return left;
    this.hashes++;
    return { kind: "branch", left, right, hash: hashSparseNode(this.scheme, hashOf(left), hashOf(right)) };
  }

  private leaf(keyHash: Uint8Array, valueHash: Uint8Array, payload: P): SparseLeaf<P> {
    this.hashes++;
    return { kind: "leaf", keyHash, valueHash, payload, hash: hashSparseLeaf(this.scheme, keyHash, valueHash) };
  }
}

/** First index in [from, to) whose key hash has bit `depth` set (items are sorted by key hash). */
function splitAt(items: readonly { readonly keyHash: Uint8Array }[], depth: number, from: number, to: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (bit(items[mid]!.keyHash, depth) === 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// --- hashing -----------------------------------------------------------------------------

export function hashSparseLeaf(scheme: MerkleScheme, keyHash: Uint8Array, valueHash: Uint8Array): Uint8Array {
  const data = new Uint8Array(65);
  data[0] = scheme.leafPrefix;
  data.set(keyHash, 1);
  data.set(valueHash, 33);
  return scheme.hash(data);
}

export function hashSparseNode(scheme: MerkleScheme, left: Uint8Array, right: Uint8Array): Uint8Array {
  const data = new Uint8Array(65);
  data[0] = scheme.nodePrefix;
  data.set(left, 1);
  data.set(right, 33);
  return scheme.hash(data);
}

/** The leaf of `key` = `value`: HASH(leafPrefix || HASH(key) || HASH(value)). */
export function hashSparseEntry(scheme: MerkleScheme, key: Uint8Array, value: Uint8Array): Uint8Array {
  assertBytes(key, "key");
  assertBytes(value, "value");
  return hashSparseLeaf(scheme, scheme.hash(key), scheme.hash(value));
}

/** The empty subtree's constant, which is also the empty tree's root. */
export function emptyHash(): Uint8Array {
  return new Uint8Array(32);
}

// --- verification ------------------------------------------------------------------------

/**
 * The root reached from `terminal` (a leaf hash or the empty constant) at depth
 * siblings.length on `keyHash`'s path. Fails (never throws) on a malformed sibling list.
 */
export function sparseRootFromPath(
  scheme: MerkleScheme,
  keyHash: Uint8Array,
  terminal: Uint8Array,
  siblings: readonly Uint8Array[],
): { readonly ok: true; readonly root: Uint8Array } | { readonly ok: false; readonly reason: string } {
  assertBytes(keyHash, "keyHash", 32);
  assertBytes(terminal, "terminal", 32);
  const problem = siblingsProblem(siblings);
  if (problem) return { ok: false, reason: problem };
  let hash = terminal;
  for (let i = 0; i < siblings.length; i++) {
    const depth = siblings.length - 1 - i;
    hash = bit(keyHash, depth) === 1 ? hashSparseNode(scheme, siblings[i]!, hash) : hashSparseNode(scheme, hash, siblings[i]!);
  }
  return { ok: true, root: hash };
}

/** Checks that the map committed to by `root` holds `key` = `value`. */
export function verifySparseProof(scheme: MerkleScheme, root: Uint8Array, key: Uint8Array, value: Uint8Array, proof: SparseProof): SparseVerifyResult {
  assertBytes(root, "root", 32);
  assertBytes(key, "key");
  assertBytes(value, "value");
  if (typeof proof !== "object" || proof === null) return { ok: false, reason: "proof is not an object" };
  const keyHash = scheme.hash(key);
  const r = sparseRootFromPath(scheme, keyHash, hashSparseLeaf(scheme, keyHash, scheme.hash(value)), proof.siblings);
  if (!r.ok) return r;
  return equalBytes(r.root, root) ? { ok: true } : { ok: false, reason: "proof leads to a different root" };
}

/** Checks that the map committed to by `root` has no entry for `key`; fails (never throws) on bad proofs. */
export function verifySparseAbsence(scheme: MerkleScheme, root: Uint8Array, key: Uint8Array, absence: SparseAbsenceProof): SparseVerifyResult {
  assertBytes(root, "root", 32);
  assertBytes(key, "key");
  if (typeof absence !== "object" || absence === null) return { ok: false, reason: "absence proof is not an object" };
  const keyHash = scheme.hash(key);
  let terminal: Uint8Array;
  if (absence.kind === "empty") {
    terminal = emptyHash();
  } else if (absence.kind === "leaf") {
    const { keyHash: other, valueHash } = absence;
    if (!isHash(other) || !isHash(valueHash)) return { ok: false, reason: "the other leaf's keyHash and valueHash must be 32 bytes each" };
    if (equalBytes(other, keyHash)) return { ok: false, reason: "the leaf at the end of the path is the key's own: the key is present" };
    if (!Array.isArray(absence.siblings)) return { ok: false, reason: "siblings is not an array" };
    // Only a leaf whose path shares the first `depth` bits can sit where the key's path ends.
    for (let d = 0; d < absence.siblings.length && d < SPARSE_MAX_DEPTH; d++) {
      if (bit(other, d) !== bit(keyHash, d)) return { ok: false, reason: `the other leaf's path leaves the key's path at depth ${d}, above the proof's depth ${absence.siblings.length}` };
    }
    terminal = hashSparseLeaf(scheme, other, valueHash);
  } else {
    return { ok: false, reason: `unknown absence proof kind ${JSON.stringify((absence as { kind?: unknown }).kind)}` };
  }
  const r = sparseRootFromPath(scheme, keyHash, terminal, absence.siblings);
  if (!r.ok) return r;
  return equalBytes(r.root, root) ? { ok: true } : { ok: false, reason: "absence proof leads to a different root" };
}

// --- helpers -----------------------------------------------------------------------------

function siblingsProblem(siblings: unknown): string | undefined {
  if (!Array.isArray(siblings)) return "siblings is not an array";
  if (siblings.length > SPARSE_MAX_DEPTH) return `${siblings.length} siblings, a path has at most ${SPARSE_MAX_DEPTH}`;
  for (let i = 0; i < siblings.length; i++) if (!isHash(siblings[i])) return `sibling ${i} is not 32 bytes`;
  return undefined;
}

function hashOf(node: SparseNode<unknown> | null): Uint8Array {
  return node ? node.hash : EMPTY;
}

const EMPTY = new Uint8Array(32);

/** Bit `depth` of a key hash, most significant bit first. */
export function bit(keyHash: Uint8Array, depth: number): 0 | 1 {
  return ((keyHash[depth >> 3]! >> (7 - (depth & 7))) & 1) as 0 | 1;
}

function isHash(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && v.length === 32;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function assertBytes(value: unknown, label: string, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${label}: expected Uint8Array`);
  if (length !== undefined && value.length !== length) throw new TypeError(`${label}: expected ${length} bytes, got ${value.length}`);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
