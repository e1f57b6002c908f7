/**
 * Binary Merkle trees with RFC 6962 domain separation, generic over the hash.
 *
 * The tree is RFC 6962 §2.1 "Merkle Tree Hash" (MTH) with a pluggable hash:
 *   MTH({})      = HASH()
 *   MTH({d0})    = HASH(leafPrefix || d0)
 *   MTH(D[0:n])  = HASH(nodePrefix || MTH(D[0:k]) || MTH(D[k:n])), k = largest power of two < n
 * Built level by level, that is: pair nodes left to right and promote an odd last node
 * unchanged to the next level (no duplication, so no CVE-2012-2459-style second trees).
 *
 * Key-value maps are committed as trees over their entries sorted by key (bytewise), each
 * leaf's data being HASH(key) || HASH(value), so leaf = HASH(0x00 || HASH(key) || HASH(value)).
 * The consortium chain uses these for per-block lists (txRoot, resultsRoot), built once per
 * block; its state, which changes a little per block, is a sparse tree (sparse-merkle.ts).
 *
 * Pure: no I/O and no imports of other Isthmus code. Misuse (wrong argument types) throws;
 * untrusted proof data makes `verify*` return `{ ok: false, reason }`.
 */
import { keccak256 } from "./keccak.ts";

/** How one ledger builds its trees; one constants object per scheme. */
export interface MerkleScheme {
  readonly name: string;
  readonly hash: (data: Uint8Array) => Uint8Array;
  /** Output length of `hash` in bytes. */
  readonly hashLength: number;
  /** RFC 6962 §2.1: 0x00 prefixes leaf data... */
  readonly leafPrefix: number;
  /** ...and 0x01 prefixes the concatenation of two child hashes. */
  readonly nodePrefix: number;
}

/** RFC 6962 trees with keccak-256 (EVM-verifiable), as used by the consortium chain. */
export const KECCAK256_RFC6962: MerkleScheme = Object.freeze({
  name: "keccak256-rfc6962",
  hash: keccak256,
  hashLength: 32,
  leafPrefix: 0x00,
  nodePrefix: 0x01,
});

/** Audit path of one leaf: siblings from the leaf level upwards. */
export interface MerkleProof {
  readonly index: number;
  readonly leafCount: number;
  readonly siblings: readonly Uint8Array[];
}

export type MerkleVerifyResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };
export type MerkleRootResult = { readonly ok: true; readonly root: Uint8Array } | { readonly ok: false; readonly reason: string };

export interface KvEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export function hashLeaf(scheme: MerkleScheme, data: Uint8Array): Uint8Array {
  assertBytes(data, "leaf data");
  return scheme.hash(concat(Uint8Array.of(scheme.leafPrefix), data));
}

export function hashNode(scheme: MerkleScheme, left: Uint8Array, right: Uint8Array): Uint8Array {
  const data = new Uint8Array(1 + left.length + right.length);
  data[0] = scheme.nodePrefix;
  data.set(left, 1);
  data.set(right, 1 + left.length);
  return scheme.hash(data);
}

/** RFC 6962 §2.1: the hash of an empty list is the hash of the empty string. */
export function emptyRoot(scheme: MerkleScheme): Uint8Array {
  return scheme.hash(new Uint8Array(0));
}

/** A built tree: every level kept, so proofs cost O(log n) once the root is known. */
export class MerkleTree {
  readonly scheme: MerkleScheme;
  readonly root: Uint8Array;
  readonly leafCount: number;
  private readonly levels: readonly (readonly Uint8Array[])[];

  private constructor(scheme: MerkleScheme, levels: readonly (readonly Uint8Array[])[], root: Uint8Array) {
    this.scheme = scheme;
    this.levels = levels;
    this.root = root;
    this.leafCount = levels[0]!.length;
  }

  /** Builds the tree over already-hashed leaves (see `hashLeaf`, `hashKvLeaf`). */
  static fromLeafHashes(scheme: MerkleScheme, leafHashes: readonly Uint8Array[]): MerkleTree {
    leafHashes.forEach((h, i) => assertBytes(h, `leafHashes[${i}]`, scheme.hashLength));
    if (leafHashes.length === 0) return new MerkleTree(scheme, [[]], emptyRoot(scheme));
    const levels: Uint8Array[][] = [leafHashes.slice()];
    let level = levels[0]!;
    while (level.length > 1) {
      const next: Uint8Array[] = [];
      for (let i = 0; i + 1 < level.length; i += 2) next.push(hashNode(scheme, level[i]!, level[i + 1]!));
      if (level.length % 2 === 1) next.push(level[level.length - 1]!); // odd node promoted
      levels.push(next);
      level = next;
    }
    return new MerkleTree(scheme, levels, level[0]!);
  }

  proof(index: number): MerkleProof {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.leafCount) {
      throw new RangeError(`index: expected 0 <= index < ${this.leafCount}, got ${index}`);
    }
    const siblings: Uint8Array[] = [];
    let at = index;
    for (let depth = 0; depth < this.levels.length - 1; depth++) {
      const level = this.levels[depth]!;
      const sibling = at % 2 === 1 ? at - 1 : at + 1;
      if (sibling < level.length) siblings.push(level[sibling]!);
      at = Math.floor(at / 2);
    }
    return { index, leafCount: this.leafCount, siblings };
  }
}

export function merkleRoot(scheme: MerkleScheme, leafHashes: readonly Uint8Array[]): Uint8Array {
  return MerkleTree.fromLeafHashes(scheme, leafHashes).root;
}

/** Recomputes the root an audit path leads to; fails (never throws) on a malformed proof. */
export function rootFromProof(scheme: MerkleScheme, leafHash: Uint8Array, proof: MerkleProof): MerkleRootResult {
  assertBytes(leafHash, "leafHash", scheme.hashLength);
  const shape = checkProofShape(scheme, proof);
  if (shape) return { ok: false, reason: shape };
  let hash = leafHash;
  let at = proof.index;
  let width = proof.leafCount;
  let used = 0;
  while (width > 1) {
    const hasSibling = at % 2 === 1 || at + 1 < width;
    if (hasSibling) {
      const sibling = proof.siblings[used++];
      if (!sibling) return { ok: false, reason: `proof too short: ${proof.siblings.length} siblings for leaf ${proof.index} of ${proof.leafCount}` };
      hash = at % 2 === 1 ? hashNode(scheme, sibling, hash) : hashNode(scheme, hash, sibling);
    }
    at = Math.floor(at / 2);
    width = Math.ceil(width / 2);
  }
  if (used !== proof.siblings.length) {
    return { ok: false, reason: `proof too long: ${proof.siblings.length} siblings, path needs ${used}` };
  }
  return { ok: true, root: hash };
}

/** Checks that `leafHash` is in the tree with root `root` (both trusted caller inputs). */
export function verifyMerkleProof(scheme: MerkleScheme, root: Uint8Array, leafHash: Uint8Array, proof: MerkleProof): MerkleVerifyResult {
  assertBytes(root, "root", scheme.hashLength);
  const computed = rootFromProof(scheme, leafHash, proof);
  if (!computed.ok) return computed;
  return equal(computed.root, root) ? { ok: true } : { ok: false, reason: "proof leads to a different root" };
}

// --- key-value maps ---------------------------------------------------------------------

/** Leaf of a key-value entry: HASH(leafPrefix || HASH(key) || HASH(value)). */
export function hashKvLeaf(scheme: MerkleScheme, key: Uint8Array, value: Uint8Array): Uint8Array {
  assertBytes(key, "key");
  assertBytes(value, "value");
  return hashKvLeafOfHashes(scheme, scheme.hash(key), scheme.hash(value));
}

/**
 * The same leaf from HASH(key) and HASH(value) already at hand (a list's key hashes repeat
 * block after block; a transaction's hash is HASH of its bytes), saving the two long hashes.
 */
export function hashKvLeafOfHashes(scheme: MerkleScheme, keyHash: Uint8Array, valueHash: Uint8Array): Uint8Array {
  assertBytes(keyHash, "keyHash", scheme.hashLength);
  assertBytes(valueHash, "valueHash", scheme.hashLength);
  const data = new Uint8Array(1 + 2 * scheme.hashLength);
  data[0] = scheme.leafPrefix;
  data.set(keyHash, 1);
  data.set(valueHash, 1 + scheme.hashLength);
  return scheme.hash(data);
}

/** Bytewise lexicographic order (a proper prefix sorts first). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** A committed key-value map: entries sorted by key; throws on duplicate keys (misuse). */
export class KvMerkleTree {
  readonly tree: MerkleTree;
  readonly entries: readonly KvEntry[];

  private constructor(tree: MerkleTree, entries: readonly KvEntry[]) {
    this.tree = tree;
    this.entries = entries;
  }

  static build(scheme: MerkleScheme, entries: Iterable<KvEntry>): KvMerkleTree {
    const sorted = [...entries].sort((a, b) => compareBytes(a.key, b.key));
    for (let i = 1; i < sorted.length; i++) {
      if (compareBytes(sorted[i - 1]!.key, sorted[i]!.key) === 0) throw new Error("entries: duplicate key");
    }
    const tree = MerkleTree.fromLeafHashes(scheme, sorted.map((e) => hashKvLeaf(scheme, e.key, e.value)));
    return new KvMerkleTree(tree, sorted);
  }

  get root(): Uint8Array {
    return this.tree.root;
  }

  /** Proof for `key`, or undefined when the map has no such key. */
  proof(key: Uint8Array): MerkleProof | undefined {
    let lo = 0;
    let hi = this.entries.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const cmp = compareBytes(this.entries[mid]!.key, key);
      if (cmp === 0) return this.tree.proof(mid);
      if (cmp < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }
}

export function kvRoot(scheme: MerkleScheme, entries: Iterable<KvEntry>): Uint8Array {
  return KvMerkleTree.build(scheme, entries).root;
}

/** Checks that the map committed to by `root` holds `key` = `value`. */
export function verifyKvProof(scheme: MerkleScheme, root: Uint8Array, key: Uint8Array, value: Uint8Array, proof: MerkleProof): MerkleVerifyResult {
  return verifyMerkleProof(scheme, root, hashKvLeaf(scheme, key, value), proof);
}

// --- helpers -----------------------------------------------------------------------------

function checkProofShape(scheme: MerkleScheme, proof: MerkleProof): string | undefined {
  if (typeof proof !== "object" || proof === null) return "proof is not an object";
  const { index, leafCount, siblings } = proof;
  if (!Number.isSafeInteger(leafCount) || leafCount < 1) return `bad leafCount ${String(leafCount)}`;
  if (!Number.isSafeInteger(index) || index < 0 || index >= leafCount) return `bad index ${String(index)} for ${leafCount} leaves`;
  if (!Array.isArray(siblings)) return "siblings is not an array";
  for (let i = 0; i < siblings.length; i++) {
    const s: unknown = siblings[i];
    if (!(s instanceof Uint8Array) || s.length !== scheme.hashLength) return `sibling ${i} is not ${scheme.hashLength} bytes`;
  }
  return undefined;
}

function assertBytes(value: unknown, label: string, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${label}: expected Uint8Array`);
  if (length !== undefined && value.length !== length) throw new TypeError(`${label}: expected ${length} bytes, got ${value.length}`);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
