/**
 * What a block commits to besides state: its transactions (txRoot) and, per transaction,
 * the outcome and the events it emitted (resultsRoot). Both are key-value Merkle maps
 * (see ../merkle.ts) so single entries can be proven:
 *
 *   txRoot:      key uint32be(txIndex)                   value = signed tx bytes
 *   resultsRoot: key uint32be(txIndex) || uint32be(0)    value = result record
 *                key uint32be(txIndex) || uint32be(1+i)  value = event i of that tx
 *
 *   result record = abi.encode(bytes32 txHash, address sender, uint64 nonce, bool ok,
 *                              string code, string message, uint32 eventCount)
 *   event         = abi.encode(bytes32 txHash, uint8 kind, bytes data), data per kind below.
 */
import { abiDecode, abiEncode } from "../abi.ts";
import { type Hex, toHex } from "../hex.ts";
import { type KvEntry, hashKvLeafOfHashes, merkleRoot } from "../merkle.ts";
import { CONSORTIUM_SCHEME, keccak256 } from "./domain.ts";
import { ASSET_SYMBOL_RE, type Decoded } from "./state.ts";

export function txKey(txIndex: number): Uint8Array {
  return uint32be(txIndex, "txIndex");
}

/** slot 0 is the result record, slot 1+i the i-th event. */
export function resultKey(txIndex: number, slot: number): Uint8Array {
  const key = new Uint8Array(8);
  key.set(uint32be(txIndex, "txIndex"), 0);
  key.set(uint32be(slot, "slot"), 4);
  return key;
}

export function txRoot(txs: readonly Uint8Array[]): Hex {
  return txRootOfHashes(txs.map(keccak256));
}

/**
 * txRoot from the transactions' hashes (keccak256 of each signed tx, what a node computed
 * when it decoded them): the value half of each leaf is exactly that hash. Keys are in index
 * order, which is their bytewise order, so no sort is needed.
 */
export function txRootOfHashes(txHashes: readonly Uint8Array[]): Hex {
  const scheme = CONSORTIUM_SCHEME.merkle;
  return toHex(merkleRoot(scheme, txHashes.map((h, i) => hashKvLeafOfHashes(scheme, keyHashOf(i, -1), h))));
}

/**
 * keccak256 of the list keys of the first positions (txKey(i) for slot -1, else resultKey(i, slot)),
 * computed once: every block hashes the same keys.
 */
const KEY_HASH_CACHE_INDICES = 4096;
const keyHashCache = new Map<number, Uint8Array>();

function keyHashOf(index: number, slot: number): Uint8Array {
  const cacheable = index < KEY_HASH_CACHE_INDICES && slot < 2;
  const id = index * 4 + slot + 1;
  if (cacheable) {
    const hit = keyHashCache.get(id);
    if (hit) return hit;
  }
  const hash = keccak256(slot < 0 ? txKey(index) : resultKey(index, slot));
  if (cacheable) keyHashCache.set(id, hash);
  return hash;
}

// --- results ------------------------------------------------------------------------------

export interface TxResultRecord {
  readonly txHash: Hex;
  readonly sender: Hex;
  readonly nonce: number;
  readonly ok: boolean;
  /** Empty when ok; otherwise a LedgerError code such as INSUFFICIENT_FUNDS. */
  readonly code: string;
  readonly message: string;
  readonly eventCount: number;
}

const RESULT_TYPES = ["bytes32", "address", "uint64", "bool", "string", "string", "uint32"] as const;

export function encodeTxResult(r: TxResultRecord): Uint8Array {
  return abiEncode(RESULT_TYPES, [r.txHash, r.sender, r.nonce, r.ok, r.code, r.message, r.eventCount]);
}

export function decodeTxResult(bytes: Uint8Array): Decoded<TxResultRecord> {
  const d = abiDecode(RESULT_TYPES, bytes);
  if (!d.ok) return d;
  const [txHash, sender, nonce, ok, code, message, eventCount] = d.values;
  if (nonce > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: "nonce too large" };
  if (ok !== (code === "")) return { ok: false, reason: "result code must be empty exactly when ok" };
  return { ok: true, value: { txHash, sender, nonce: Number(nonce), ok, code, message, eventCount: Number(eventCount) } };
}

// --- events -------------------------------------------------------------------------------

export type ChainEvent =
  | { readonly kind: "transfer"; readonly from: Hex; readonly to: Hex; readonly asset: string; readonly amount: bigint }
  | { readonly kind: "issued"; readonly issuer: Hex; readonly to: Hex; readonly asset: string; readonly amount: bigint }
  | {
      readonly kind: "locked";
      readonly lockId: Hex;
      readonly sender: Hex;
      readonly receiver: Hex;
      readonly asset: string;
      readonly amount: bigint;
      readonly hashlock: Hex;
      readonly timelock: number;
    }
  | { readonly kind: "claimed"; readonly lockId: Hex; readonly receiver: Hex; readonly preimage: Hex }
  | { readonly kind: "refunded"; readonly lockId: Hex; readonly sender: Hex };

/** Event kind codes and the ABI types of each kind's data. */
const EVENT_LAYOUT = {
  transfer: { code: 1, types: ["address", "address", "string", "uint256"] },
  issued: { code: 2, types: ["address", "address", "string", "uint256"] },
  locked: { code: 3, types: ["bytes32", "address", "address", "string", "uint256", "bytes32", "uint64"] },
  claimed: { code: 4, types: ["bytes32", "address", "bytes32"] },
  refunded: { code: 5, types: ["bytes32", "address"] },
} as const;

const EVENT_TYPES = ["bytes32", "uint8", "bytes"] as const;

export function encodeEvent(txHash: Hex, e: ChainEvent): Uint8Array {
  const data = (() => {
    switch (e.kind) {
      case "transfer":
        return abiEncode(EVENT_LAYOUT.transfer.types, [e.from, e.to, e.asset, e.amount]);
      case "issued":
        return abiEncode(EVENT_LAYOUT.issued.types, [e.issuer, e.to, e.asset, e.amount]);
      case "locked":
        return abiEncode(EVENT_LAYOUT.locked.types, [e.lockId, e.sender, e.receiver, e.asset, e.amount, e.hashlock, e.timelock]);
      case "claimed":
        return abiEncode(EVENT_LAYOUT.claimed.types, [e.lockId, e.receiver, e.preimage]);
      case "refunded":
        return abiEncode(EVENT_LAYOUT.refunded.types, [e.lockId, e.sender]);
    }
  })();
  return abiEncode(EVENT_TYPES, [txHash, EVENT_LAYOUT[e.kind].code, data]);
}

export function decodeEvent(bytes: Uint8Array): Decoded<{ txHash: Hex; event: ChainEvent }> {
  const outer = abiDecode(EVENT_TYPES, bytes);
  if (!outer.ok) return outer;
  const [txHash, code, data] = outer.values;
  const event = decodeEventData(Number(code), data);
  if (!event.ok) return event;
  return { ok: true, value: { txHash, event: event.value } };
}

function decodeEventData(code: number, data: Uint8Array): Decoded<ChainEvent> {
  const bad = (reason: string): Decoded<ChainEvent> => ({ ok: false, reason });
  const symbolOk = (s: string) => ASSET_SYMBOL_RE.test(s);
  switch (code) {
    case EVENT_LAYOUT.transfer.code: {
      const d = abiDecode(EVENT_LAYOUT.transfer.types, data);
      if (!d.ok) return d;
      const [from, to, asset, amount] = d.values;
      return symbolOk(asset) ? { ok: true, value: { kind: "transfer", from, to, asset, amount } } : bad("invalid asset symbol");
    }
    case EVENT_LAYOUT.issued.code: {
      const d = abiDecode(EVENT_LAYOUT.issued.types, data);
      if (!d.ok) return d;
      const [issuer, to, asset, amount] = d.values;
      return symbolOk(asset) ? { ok: true, value: { kind: "issued", issuer, to, asset, amount } } : bad("invalid asset symbol");
    }
    case EVENT_LAYOUT.locked.code: {
      const d = abiDecode(EVENT_LAYOUT.locked.types, data);
      if (!d.ok) return d;
      const [lockId, sender, receiver, asset, amount, hashlock, timelock] = d.values;
      if (!symbolOk(asset)) return bad("invalid asset symbol");
      if (timelock > BigInt(Number.MAX_SAFE_INTEGER)) return bad("timelock too large");
      return { ok: true, value: { kind: "locked", lockId, sender, receiver, asset, amount, hashlock, timelock: Number(timelock) } };
    }
    case EVENT_LAYOUT.claimed.code: {
      const d = abiDecode(EVENT_LAYOUT.claimed.types, data);
      if (!d.ok) return d;
      const [lockId, receiver, preimage] = d.values;
      return { ok: true, value: { kind: "claimed", lockId, receiver, preimage } };
    }
    case EVENT_LAYOUT.refunded.code: {
      const d = abiDecode(EVENT_LAYOUT.refunded.types, data);
      if (!d.ok) return d;
      const [lockId, sender] = d.values;
      return { ok: true, value: { kind: "refunded", lockId, sender } };
    }
    default:
      return bad(`unknown event kind ${code}`);
  }
}

// --- the results map ----------------------------------------------------------------------

/** One transaction's committed outcome: its encoded result record and encoded events. */
export interface EncodedTxOutcome {
  readonly result: Uint8Array;
  readonly events: readonly Uint8Array[];
}

export function resultsEntries(outcomes: readonly EncodedTxOutcome[]): KvEntry[] {
  const entries: KvEntry[] = [];
  outcomes.forEach((o, i) => {
    entries.push({ key: resultKey(i, 0), value: o.result });
    o.events.forEach((e, j) => entries.push({ key: resultKey(i, j + 1), value: e }));
  });
  return entries;
}

export function resultsRoot(outcomes: readonly EncodedTxOutcome[]): Hex {
  // resultsEntries' order (tx index, then slot) is already the keys' bytewise order.
  const scheme = CONSORTIUM_SCHEME.merkle;
  const leaves: Uint8Array[] = [];
  outcomes.forEach((o, i) => {
    leaves.push(hashKvLeafOfHashes(scheme, keyHashOf(i, 0), keccak256(o.result)));
    o.events.forEach((e, j) => leaves.push(hashKvLeafOfHashes(scheme, keyHashOf(i, j + 1), keccak256(e))));
  });
  return toHex(merkleRoot(scheme, leaves));
}

function uint32be(n: number, label: string): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`${label}: expected uint32, got ${n}`);
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}
