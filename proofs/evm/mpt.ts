/**
 * Merkle-Patricia trie proofs (Yellow Paper, Appendix D) for Ethereum's "secure" tries,
 * whose paths are keccak256 of the key (the state trie, YP 4.1; each account's storage
 * trie, YP 4.1 σ[a]_s). A proof is the list of RLP-encoded nodes on the key's path, root
 * first, as `eth_getProof` (EIP-1186) returns them.
 *
 * The result proves either inclusion (the leaf's value) or exclusion (`value: null`: the
 * path ends at an empty branch slot, or at a leaf or extension whose path diverges from
 * the key's). Bad proofs return `{ ok: false, reason }`; nothing here throws on untrusted bytes.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { type RlpItem, decodeRlp } from "./rlp.ts";

export type MptResult =
  | { readonly ok: true; readonly value: Uint8Array | null }
  | { readonly ok: false; readonly reason: string };

/**
 * Walks `proof` from `root` along keccak256(`key`) and returns the value stored there,
 * or null when the proof shows that no value is stored there.
 * Throws only on misuse (root not 32 bytes, arguments of the wrong type).
 * `hashes` memoizes node hashes by node object, for callers verifying several proofs that
 * share nodes (the six slots of one lock share the storage trie's top nodes).
 */
export function verifySecureTrieProof(root: Uint8Array, key: Uint8Array, proof: readonly Uint8Array[], hashes?: WeakMap<Uint8Array, Uint8Array>): MptResult {
  if (!(root instanceof Uint8Array) || root.length !== 32) throw new TypeError("verifySecureTrieProof: root must be 32 bytes");
  if (!(key instanceof Uint8Array)) throw new TypeError("verifySecureTrieProof: key must be a Uint8Array");
  if (!Array.isArray(proof)) throw new TypeError("verifySecureTrieProof: proof must be an array");
  return walk(root, nibbles(keccak_256(key)), proof, hashes);
}

function walk(root: Uint8Array, path: number[], proof: readonly Uint8Array[], hashes: WeakMap<Uint8Array, Uint8Array> | undefined): MptResult {
  let used = 0;
  let expectHash: Uint8Array | null = root; // the reference the next node must match
  let node: RlpItem | null = null;
  let at = 0; // nibbles of `path` consumed
  for (let steps = 0; ; steps++) {
    if (steps > 2 * path.length + 2) return fail("proof path is longer than the key");
    if (expectHash !== null) {
      // YP D (eq. 193): a node whose RLP is 32 bytes or more is referenced by its keccak256;
      // the root is always referenced by its hash.
      const raw = proof[used];
      if (raw === undefined) return fail(`proof ends after ${used} node(s) before the key's path does`);
      if (!(raw instanceof Uint8Array)) throw new TypeError(`verifySecureTrieProof: proof[${used}] must be a Uint8Array`);
      let hash = hashes?.get(raw);
      if (hash === undefined) {
        hash = keccak_256(raw);
        hashes?.set(raw, hash);
      }
      if (!equal(hash, expectHash)) return fail(used === 0 ? "first proof node does not hash to the root" : `proof node ${used} does not hash to its parent's reference`);
      if (used > 0 && raw.length < 32) return fail(`proof node ${used} is shorter than 32 bytes yet referenced by hash`);
      const d = decodeRlp(raw);
      if (!d.ok) return fail(`proof node ${used}: ${d.reason}`);
      node = d.item;
      used++;
      expectHash = null;
    }
    if (!Array.isArray(node)) return fail(`proof node ${used - 1} is not an RLP list`);
    const items = node as readonly RlpItem[];
    let next: RlpItem;
    if (items.length === 17) {
      // YP D: branch node, 16 children by nibble plus a value slot.
      if (at === path.length) return done(used, proof, nonEmpty(items[16]!), "branch value");
      const child = items[path[at]!]!;
      at++;
      if (child instanceof Uint8Array && child.length === 0) return done(used, proof, null, "empty branch slot"); // exclusion
      next = child;
    } else if (items.length === 2) {
      // YP D (eq. 191, hex-prefix encoding, Appendix C): flag nibble bit 1 = leaf, bit 0 = odd length.
      const enc = items[0]!;
      if (!(enc instanceof Uint8Array) || enc.length === 0) return fail("leaf/extension path is not a byte string");
      const flag = enc[0]! >> 4;
      if (flag > 3) return fail(`hex-prefix flag ${flag} is not 0-3`);
      if ((flag & 1) === 0 && (enc[0]! & 0x0f) !== 0) return fail("hex-prefix padding nibble is not zero");
      const part: number[] = [];
      if (flag & 1) part.push(enc[0]! & 0x0f);
      for (let i = 1; i < enc.length; i++) part.push(enc[i]! >> 4, enc[i]! & 0x0f);
      const isLeaf = (flag & 2) !== 0;
      const matches = part.length <= path.length - at && part.every((n, i) => n === path[at + i]);
      if (isLeaf) {
        const value = items[1]!;
        if (!(value instanceof Uint8Array) || value.length === 0) return fail("leaf value is not a non-empty byte string");
        if (matches && at + part.length === path.length) return done(used, proof, value, "leaf");
        return done(used, proof, null, "diverging leaf"); // exclusion: another key's leaf sits here
      }
      if (part.length === 0) return fail("extension node with an empty path");
      if (!matches) return done(used, proof, null, "diverging extension"); // exclusion
      at += part.length;
      next = items[1]!;
    } else {
      return fail(`trie node has ${items.length} items (expected 2 or 17)`);
    }
    if (next instanceof Uint8Array) {
      if (next.length !== 32) return fail(`child reference of ${next.length} bytes (expected a 32-byte hash or an embedded node)`);
      expectHash = next;
    } else {
      node = next; // YP D: a node shorter than 32 bytes is embedded in its parent
    }
  }
}

function done(used: number, proof: readonly Uint8Array[], value: Uint8Array | null, _where: string): MptResult {
  if (used !== proof.length) return fail(`${proof.length - used} proof node(s) left over after the path ended`);
  return { ok: true, value };
}

function nonEmpty(item: RlpItem): Uint8Array | null {
  return item instanceof Uint8Array && item.length > 0 ? item : null;
}

function fail(reason: string): MptResult {
  return { ok: false, reason };
}

function nibbles(b: Uint8Array): number[] {
  const out: number[] = [];
  for (const x of b) out.push(x >> 4, x & 0x0f);
  return out;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
