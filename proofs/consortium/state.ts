/**
 * The consortium state as a key -> value map: what its keys are and how values are encoded
 * (Solidity ABI, so a contract can decode a proven value with `abi.decode`).
 *
 *   key                               value
 *   0x01 || utf8(symbol)              abi.encode(string symbol, uint8 decimals, address issuer, uint256 supply)
 *   0x02 || address || utf8(symbol)   abi.encode(uint256 balance)          (absent = 0)
 *   0x03 || address                   abi.encode(uint64 nextNonce)         (absent = 0)
 *   0x04 || lockId                    abi.encode(address sender, address receiver, string asset,
 *                                       uint256 amount, bytes32 hashlock, uint64 timelock,
 *                                       uint8 status, bytes32 preimage)
 * Lock status: 1 locked, 2 claimed, 3 refunded; preimage is zero unless claimed.
 */
import { abiDecode, abiEncode } from "../abi.ts";
import { type Hex, concatBytes, fromHex, isHex, toHex } from "../hex.ts";
import { keccak256, sha256, ZERO_HASH } from "./domain.ts";

export const STATE_KEY_PREFIX = Object.freeze({ asset: 0x01, balance: 0x02, nonce: 0x03, lock: 0x04 } as const);

/** Asset symbols: an upper-case letter then 1-15 upper-case letters or digits. */
export const ASSET_SYMBOL_RE = /^[A-Z][A-Z0-9]{1,15}$/;

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const utf8 = (s: string) => new TextEncoder().encode(s);

function checkSymbol(symbol: string): void {
  if (typeof symbol !== "string" || !ASSET_SYMBOL_RE.test(symbol)) throw new TypeError(`asset: invalid symbol ${JSON.stringify(symbol)}`);
}

export function assetKey(symbol: string): Uint8Array {
  checkSymbol(symbol);
  return concatBytes(Uint8Array.of(STATE_KEY_PREFIX.asset), utf8(symbol));
}

export function balanceKey(owner: Hex, symbol: string): Uint8Array {
  checkSymbol(symbol);
  return concatBytes(Uint8Array.of(STATE_KEY_PREFIX.balance), fromHex(owner, "owner", 20), utf8(symbol));
}

export function nonceKey(account: Hex): Uint8Array {
  return concatBytes(Uint8Array.of(STATE_KEY_PREFIX.nonce), fromHex(account, "account", 20));
}

export function lockKey(lockId: Hex): Uint8Array {
  return concatBytes(Uint8Array.of(STATE_KEY_PREFIX.lock), fromHex(lockId, "lockId", 32));
}

// --- assets -------------------------------------------------------------------------------

export interface AssetRecord {
  readonly symbol: string;
  readonly decimals: number;
  /** Only this address may issue; the zero address for the native asset (nobody can). */
  readonly issuer: Hex;
  readonly supply: bigint;
}

const ASSET_TYPES = ["string", "uint8", "address", "uint256"] as const;

export function encodeAsset(a: AssetRecord): Uint8Array {
  checkSymbol(a.symbol);
  return abiEncode(ASSET_TYPES, [a.symbol, a.decimals, a.issuer, a.supply]);
}

export function decodeAsset(bytes: Uint8Array): Decoded<AssetRecord> {
  const d = abiDecode(ASSET_TYPES, bytes);
  if (!d.ok) return d;
  const [symbol, decimals, issuer, supply] = d.values;
  if (!ASSET_SYMBOL_RE.test(symbol)) return { ok: false, reason: "invalid asset symbol" };
  return { ok: true, value: { symbol, decimals: Number(decimals), issuer, supply } };
}

// --- balances and nonces ------------------------------------------------------------------

export function encodeBalance(amount: bigint): Uint8Array {
  return abiEncode(["uint256"], [amount]);
}

export function decodeBalance(bytes: Uint8Array): Decoded<bigint> {
  const d = abiDecode(["uint256"], bytes);
  return d.ok ? { ok: true, value: d.values[0] } : d;
}

export function encodeNonce(nonce: number): Uint8Array {
  return abiEncode(["uint64"], [nonce]);
}

export function decodeNonce(bytes: Uint8Array): Decoded<number> {
  const d = abiDecode(["uint64"], bytes);
  if (!d.ok) return d;
  return d.values[0] <= BigInt(Number.MAX_SAFE_INTEGER) ? { ok: true, value: Number(d.values[0]) } : { ok: false, reason: "nonce too large" };
}

// --- locks --------------------------------------------------------------------------------

export type LockStatus = "locked" | "claimed" | "refunded";
const STATUS_CODE: Record<LockStatus, number> = { locked: 1, claimed: 2, refunded: 3 };
const STATUS_NAME: Record<number, LockStatus> = { 1: "locked", 2: "claimed", 3: "refunded" };

/** What the locker chooses; together with the sender it determines the lock id. */
export interface LockTerms {
  readonly receiver: Hex;
  readonly asset: string;
  readonly amount: bigint;
  /** sha256(preimage) */
  readonly hashlock: Hex;
  /** Unix seconds of block time: claim strictly before, refund at or after. */
  readonly timelock: number;
}

export interface LockRecord extends LockTerms {
  readonly sender: Hex;
  readonly status: LockStatus;
  /** The revealed preimage when claimed, else null. */
  readonly preimage: Hex | null;
}

const LOCK_ID_TYPES = ["address", "address", "string", "uint256", "bytes32", "uint64"] as const;
const LOCK_TYPES = [...LOCK_ID_TYPES, "uint8", "bytes32"] as const;

/** keccak256(abi.encode(address sender, address receiver, string asset, uint256 amount, bytes32 hashlock, uint64 timelock)). */
export function lockIdFor(sender: Hex, terms: LockTerms): Hex {
  return toHex(keccak256(abiEncode(LOCK_ID_TYPES, [sender, terms.receiver, terms.asset, terms.amount, terms.hashlock, terms.timelock])));
}

export function encodeLock(lock: LockRecord): Uint8Array {
  checkSymbol(lock.asset);
  if ((lock.status === "claimed") !== (lock.preimage !== null)) throw new TypeError("lock: preimage must be set exactly when claimed");
  return abiEncode(LOCK_TYPES, [
    lock.sender,
    lock.receiver,
    lock.asset,
    lock.amount,
    lock.hashlock,
    lock.timelock,
    STATUS_CODE[lock.status],
    lock.preimage ?? ZERO_HASH,
  ]);
}

/** Decodes a lock value and checks its invariants (status known, preimage matches the hashlock when claimed). */
export function decodeLock(bytes: Uint8Array): Decoded<LockRecord> {
  const d = abiDecode(LOCK_TYPES, bytes);
  if (!d.ok) return d;
  const [sender, receiver, asset, amount, hashlock, timelock, statusCode, preimage] = d.values;
  const status = STATUS_NAME[Number(statusCode)];
  if (!status) return { ok: false, reason: `unknown lock status ${statusCode}` };
  if (!ASSET_SYMBOL_RE.test(asset)) return { ok: false, reason: "invalid asset symbol" };
  if (timelock > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: "timelock too large" };
  if (status === "claimed") {
    if (toHex(sha256(fromHex(preimage, "preimage"))) !== hashlock) return { ok: false, reason: "claimed lock's preimage does not match its hashlock" };
  } else if (preimage !== ZERO_HASH) {
    return { ok: false, reason: "unclaimed lock carries a preimage" };
  }
  return {
    ok: true,
    value: { sender, receiver, asset, amount, hashlock, timelock: Number(timelock), status, preimage: status === "claimed" ? preimage : null },
  };
}

export function isLockId(value: unknown): value is Hex {
  return isHex(value, 32);
}
