/**
 * An HTLC lock (contracts/HTLC.sol) proven from a state root: the contract's account proof
 * gives its storageRoot, six storage proofs give the lock's slots, and the decoded fields
 * must hash to the lock id. The storage layout is the one HTLC.sol documents:
 *
 *   base = keccak256(abi.encode(lockId, uint256(0)))       (Solidity mapping at slot 0)
 *   base+0: sender (bits 0..159) | timelock (160..223) | status (224..231)
 *   base+1: receiver   base+2: token   base+3: amount   base+4: hashlock   base+5: preimage
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { hexToBytes } from "@noble/hashes/utils.js";
import { type Hex, isHex, toHex } from "../hex.ts";
import { verifySecureTrieProof } from "./mpt.ts";
import { decodeRlp, decodeScalar } from "./rlp.ts";

export const HTLC_LOCK_SLOTS = 6;
const STATUS = ["none", "locked", "claimed", "refunded"] as const;
const U256 = (1n << 256n) - 1n;
const U160 = (1n << 160n) - 1n;

export type EvmLockStatus = "locked" | "claimed" | "refunded";

export interface EvmLock {
  readonly lockId: Hex;
  readonly sender: Hex;
  readonly receiver: Hex;
  /** 0x000…0 for ETH. */
  readonly token: Hex;
  readonly amount: bigint;
  readonly hashlock: Hex;
  readonly timelock: bigint;
  readonly status: EvmLockStatus;
  /** Set only when claimed. */
  readonly preimage: Hex | null;
}

export interface EvmAccount {
  readonly nonce: bigint;
  readonly balance: bigint;
  readonly storageRoot: Hex;
  readonly codeHash: Hex;
}

/** One entry of eth_getProof's `storageProof` (EIP-1186). */
export interface StorageProof {
  readonly key: Hex;
  readonly value: Hex;
  readonly proof: readonly Hex[];
}

export interface HtlcLockProofParams {
  /** The state root of a header the caller has already checked. */
  readonly stateRoot: Hex;
  readonly htlc: Hex;
  readonly lockId: Hex;
  /** eth_getProof's accountProof for `htlc`. */
  readonly accountProof: readonly Hex[];
  /** eth_getProof's storageProof for `htlcLockSlots(lockId)`, in that order. */
  readonly storageProof: readonly StorageProof[];
}

export type HtlcLockVerification =
  | { readonly ok: true; readonly account: EvmAccount; readonly lock: EvmLock | null }
  | { readonly ok: false; readonly reason: string };

/** The storage slots (32-byte hex, the form eth_getProof needs) holding lock `lockId`. */
export function htlcLockSlots(lockId: Hex): Hex[] {
  if (!isHex(lockId, 32)) throw new TypeError(`htlcLockSlots: lockId must be 32-byte hex, got ${String(lockId)}`);
  // Solidity docs, "Layout of State Variables in Storage": mapping value at keccak256(h(k) . p).
  const base = BigInt(toHex(keccak_256(concat2(hex(lockId), new Uint8Array(32)))));
  return Array.from({ length: HTLC_LOCK_SLOTS }, (_, i) => word((base + BigInt(i)) & U256));
}

/** keccak256(abi.encode(sender, receiver, token, amount, hashlock, timelock)), as HTLC.lockIdFor. */
export function htlcLockId(f: { sender: Hex; receiver: Hex; token: Hex; amount: bigint; hashlock: Hex; timelock: bigint }): Hex {
  const words = [BigInt(f.sender), BigInt(f.receiver), BigInt(f.token), f.amount, BigInt(f.hashlock), f.timelock];
  const buf = new Uint8Array(32 * words.length);
  words.forEach((w, i) => buf.set(hex(word(w)), 32 * i));
  return toHex(keccak_256(buf));
}

/** Verifies the account and storage proofs against `stateRoot` and decodes the lock (null: no such lock). */
export function verifyHtlcLockProof(p: HtlcLockProofParams): HtlcLockVerification {
  if (!isHex(p.stateRoot, 32)) throw new TypeError("verifyHtlcLockProof: stateRoot must be 32-byte hex");
  if (!isHex(p.htlc, 20)) throw new TypeError("verifyHtlcLockProof: htlc must be a 20-byte address");
  if (!isHex(p.lockId, 32)) throw new TypeError("verifyHtlcLockProof: lockId must be 32-byte hex");
  const accountNodes = hexList(p.accountProof);
  if (!accountNodes) return { ok: false, reason: "accountProof is not a list of hex strings" };
  // YP 4.1: the state trie maps keccak256(address) to RLP([nonce, balance, storageRoot, codeHash]).
  const acct = verifySecureTrieProof(hex(p.stateRoot), hex(p.htlc), accountNodes);
  if (!acct.ok) return { ok: false, reason: `account proof: ${acct.reason}` };
  if (acct.value === null) return { ok: false, reason: `account proof shows no account at ${p.htlc.toLowerCase()}` };
  const account = decodeAccount(acct.value);
  if (typeof account === "string") return { ok: false, reason: `account: ${account}` };

  const slots = htlcLockSlots(p.lockId);
  // Identical proof nodes (the storage trie's top nodes) become one object, hashed once.
  const nodeOf = new Map<string, Uint8Array>();
  const hashes = new WeakMap<Uint8Array, Uint8Array>();
  if (!Array.isArray(p.storageProof) || p.storageProof.length !== slots.length) {
    return { ok: false, reason: `expected ${slots.length} storage proofs, got ${Array.isArray(p.storageProof) ? p.storageProof.length : "none"}` };
  }
  const values: bigint[] = [];
  for (const [i, slot] of slots.entries()) {
    const sp = p.storageProof[i] as StorageProof | undefined;
    if (typeof sp !== "object" || sp === null) return { ok: false, reason: `storage proof ${i} is not an object` };
    if (typeof sp.key !== "string" || !isHex(sp.key, 32) || sp.key.toLowerCase() !== slot) return { ok: false, reason: `storage proof ${i} is for key ${String(sp.key)}, expected slot ${slot}` };
    const nodes = hexList(sp.proof, nodeOf);
    if (!nodes) return { ok: false, reason: `storage proof ${i} is not a list of hex strings` };
    // YP 4.1: storage trie maps keccak256(slot) to RLP(value as a scalar); absent means zero.
    const r = verifySecureTrieProof(hex(account.storageRoot), hex(slot), nodes, hashes);
    if (!r.ok) return { ok: false, reason: `storage proof ${i}: ${r.reason}` };
    let v = 0n;
    if (r.value !== null) {
      const d = decodeRlp(r.value);
      if (!d.ok) return { ok: false, reason: `storage value ${i}: ${d.reason}` };
      if (!(d.item instanceof Uint8Array)) return { ok: false, reason: `storage value ${i} is a list` };
      const s = decodeScalar(d.item);
      if (!s.ok) return { ok: false, reason: `storage value ${i}: ${s.reason}` };
      if (s.value === 0n) return { ok: false, reason: `storage value ${i} is a stored zero (zero slots are deleted)` };
      v = s.value;
    }
    if (typeof sp.value !== "string" || !/^0x[0-9a-fA-F]{1,64}$/.test(sp.value) || BigInt(sp.value) !== v) {
      return { ok: false, reason: `storage value ${i} claimed as ${String(sp.value)} but the proof shows 0x${v.toString(16)}` };
    }
    values.push(v);
  }
  const lock = decodeLockSlots(p.lockId.toLowerCase() as Hex, values);
  if (typeof lock === "string") return { ok: false, reason: lock };
  return { ok: true, account, lock };
}

function decodeLockSlots(lockId: Hex, s: bigint[]): EvmLock | null | string {
  const [w0, receiverW, tokenW, amount, hashlockW, preimageW] = s as [bigint, bigint, bigint, bigint, bigint, bigint];
  const statusCode = Number((w0 >> 224n) & 0xffn);
  if (w0 >> 232n !== 0n) return "slot 0 has bits set above the status byte";
  const status = STATUS[statusCode];
  if (status === undefined) return `lock has unknown status ${statusCode}`;
  if (status === "none") {
    if (s.some((v) => v !== 0n)) return "lock has status None but non-zero fields";
    return null;
  }
  if (receiverW > U160 || tokenW > U160) return "receiver or token slot has bits above 160";
  const lock = {
    lockId,
    sender: address(w0 & U160),
    timelock: (w0 >> 160n) & ((1n << 64n) - 1n),
    receiver: address(receiverW),
    token: address(tokenW),
    amount,
    hashlock: word(hashlockW),
  };
  if (htlcLockId(lock) !== lockId) return "lock fields do not hash to the lock id";
  if (status === "claimed") {
    const preimage = word(preimageW);
    // HTLC.sol: hashlock = sha256(abi.encodePacked(bytes32 preimage)).
    if (toHex(sha256(hex(preimage))) !== lock.hashlock) return "claimed lock's preimage does not match its hashlock";
    return { ...lock, status, preimage };
  }
  if (preimageW !== 0n) return `${status} lock has a non-zero preimage`;
  return { ...lock, status, preimage: null };
}

function decodeAccount(value: Uint8Array): EvmAccount | string {
  const d = decodeRlp(value);
  if (!d.ok) return d.reason;
  const it = d.item;
  if (!Array.isArray(it) || it.length !== 4 || !it.every((x) => x instanceof Uint8Array)) return "not an RLP list of 4 byte strings";
  const [n, b, root, code] = it as Uint8Array[];
  const nonce = decodeScalar(n!, 8);
  if (!nonce.ok) return `nonce: ${nonce.reason}`;
  const balance = decodeScalar(b!);
  if (!balance.ok) return `balance: ${balance.reason}`;
  if (root!.length !== 32 || code!.length !== 32) return "storageRoot or codeHash is not 32 bytes";
  return { nonce: nonce.value, balance: balance.value, storageRoot: toHex(root!), codeHash: toHex(code!) };
}

function hexList(v: unknown, seen?: Map<string, Uint8Array>): Uint8Array[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: Uint8Array[] = [];
  for (const x of v) {
    if (!isHex(x)) return undefined;
    const key = x.toLowerCase();
    let b = seen?.get(key);
    if (b === undefined) {
      b = hex(x);
      seen?.set(key, b);
    }
    out.push(b);
  }
  return out;
}

function hex(v: string): Uint8Array {
  return hexToBytes(v.slice(2));
}

function word(v: bigint): Hex {
  return `0x${v.toString(16).padStart(64, "0")}`;
}

function address(v: bigint): Hex {
  return `0x${v.toString(16).padStart(40, "0")}`;
}

function concat2(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
