/**
 * Typed access to the state map (keys and encodings from proofs/consortium/state.ts).
 * Our own state failing to decode means corruption, so it throws a plain Error.
 */
import { type Hex } from "../../proofs/hex.ts";
import {
  type AssetRecord,
  type Decoded,
  type LockRecord,
  assetKey,
  balanceKey,
  decodeAsset,
  decodeBalance,
  decodeLock,
  decodeNonce,
  encodeAsset,
  encodeBalance,
  encodeLock,
  encodeNonce,
  lockKey,
  nonceKey,
} from "../../proofs/consortium/state.ts";
import { type KvStore } from "./kv.ts";

/**
 * Every transfer reads its asset record twice (debit and credit) and the record rarely
 * changes: decode each stored value once. Keyed by the value's identity; stored values are
 * never mutated (kv.ts stores owned copies), and AssetRecord is immutable.
 */
const decodedAssets = new WeakMap<Uint8Array, Decoded<AssetRecord>>();

function decodeAssetMemo(bytes: Uint8Array): Decoded<AssetRecord> {
  let d = decodedAssets.get(bytes);
  if (!d) {
    d = decodeAsset(bytes);
    decodedAssets.set(bytes, d);
  }
  return d;
}

/**
 * State keys by their parts. Building one validates and converts hex and UTF-8 each time,
 * and a transfer builds six; accounts and assets repeat. Bounded: cleared when full.
 * Keys are never mutated (stores copy what they keep).
 */
const KEY_MEMO_SIZE = 50_000;
const keyMemo = new Map<string, Uint8Array>();

function memoKey(id: string, make: () => Uint8Array): Uint8Array {
  let key = keyMemo.get(id);
  if (!key) {
    key = make();
    if (keyMemo.size >= KEY_MEMO_SIZE) keyMemo.clear();
    keyMemo.set(id, key);
  }
  return key;
}

const assetKeyOf = (symbol: string) => memoKey(`a${symbol}`, () => assetKey(symbol));
const balanceKeyOf = (owner: Hex, symbol: string) => memoKey(`b${owner}${symbol}`, () => balanceKey(owner, symbol));
const nonceKeyOf = (account: Hex) => memoKey(`n${account}`, () => nonceKey(account));

export class LedgerState {
  readonly kv: KvStore;

  constructor(kv: KvStore) {
    this.kv = kv;
  }

  asset(symbol: string): AssetRecord | undefined {
    return this.read(assetKeyOf(symbol), decodeAssetMemo, `asset ${symbol}`);
  }

  putAsset(asset: AssetRecord): void {
    this.kv.set(assetKeyOf(asset.symbol), encodeAsset(asset));
  }

  balance(owner: Hex, symbol: string): bigint {
    return this.read(balanceKeyOf(owner, symbol), decodeBalance, `balance ${owner}/${symbol}`) ?? 0n;
  }

  /** A zero balance is stored as absence, so equal states have equal roots. */
  setBalance(owner: Hex, symbol: string, amount: bigint): void {
    if (amount < 0n) throw new Error(`negative balance for ${owner}/${symbol}`);
    const key = balanceKeyOf(owner, symbol);
    if (amount === 0n) this.kv.delete(key);
    else this.kv.set(key, encodeBalance(amount));
  }

  /** The next nonce `account` must use. */
  nonce(account: Hex): number {
    return this.read(nonceKeyOf(account), decodeNonce, `nonce ${account}`) ?? 0;
  }

  setNonce(account: Hex, nonce: number): void {
    this.kv.set(nonceKeyOf(account), encodeNonce(nonce));
  }

  lock(lockId: Hex): LockRecord | undefined {
    return this.read(lockKey(lockId), decodeLock, `lock ${lockId}`);
  }

  putLock(lockId: Hex, lock: LockRecord): void {
    this.kv.set(lockKey(lockId), encodeLock(lock));
  }

  private read<T>(key: Uint8Array, decode: (b: Uint8Array) => Decoded<T>, what: string): T | undefined {
    const bytes = this.kv.get(key);
    if (bytes === undefined) return undefined;
    const d = decode(bytes);
    if (!d.ok) throw new Error(`corrupt state: ${what}: ${d.reason}`);
    return d.value;
  }
}
