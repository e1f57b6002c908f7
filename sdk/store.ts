/**
 * Where a dApp keeps its swaps, preimage included, so that a restarted dApp can still
 * claim or refund. The SDK writes a record before every step that commits funds or
 * reveals the preimage (write-ahead), so a crash at any instant leaves enough to finish.
 */
import type { Hex } from "../chains/ledger.ts";

export interface AssetRef {
  readonly chain: string;
  readonly asset: string;
}

/** What was agreed with the relayer; fixed once the swap is created. */
export interface SwapTerms {
  readonly swapId: string;
  /** Relayer API base URL the swap was created at (recover asks it again). */
  readonly relayerUrl: string;
  readonly from: AssetRef;
  readonly to: AssetRef;
  /** Base units, decimal strings (JSON has no bigint). */
  readonly amountIn: string;
  readonly amountOut: string;
  /** The relayer's account on the source ledger: the receiver of the user's lock. */
  readonly relayerFrom: Hex;
  readonly userFrom: Hex;
  readonly userTo: Hex;
  readonly hashlock: Hex;
  /** Never sent to the relayer; revealed only by the SDK's claim of a verified counter-lock. */
  readonly preimage: Hex;
  /** Seconds of source chain time the user's lock runs from when it is made. */
  readonly timelockSec: number;
  /** The margin (seconds) the relayer published for this route in its quote. */
  readonly quotedMarginSec: number;
}

export interface UserLockRef {
  readonly chain: string;
  readonly lockId: Hex;
  readonly timelock: number;
}

export interface CounterLockRef {
  readonly chain: string;
  readonly lockId: Hex;
  readonly timelock: number;
}

/**
 * A swap's phase. Transitions (the only ones the SDK makes):
 *   created -> locking -> locked -> claiming -> claimed
 *   locked -> refused           (counter-lock failed a check: never claim, only refund)
 *   locking | locked | refused | claiming -> refunded   (user lock expired unclaimed)
 *   locking | locked | refused | claiming -> completed  (the relayer claimed the user's lock)
 *   created -> abandoned        (never locked)
 */
export type SwapRecord = SwapTerms &
  (
    | { readonly phase: "created" }
    /** The lock's id is known before it is sent; it may or may not exist on chain. */
    | { readonly phase: "locking"; readonly userLock: UserLockRef }
    | { readonly phase: "locked"; readonly userLock: UserLockRef; readonly lockTxId: Hex | null }
    | { readonly phase: "refused"; readonly userLock: UserLockRef; readonly reason: { readonly code: string; readonly message: string } }
    /** Written before the claim is sent: from here the preimage may be public. */
    | { readonly phase: "claiming"; readonly userLock: UserLockRef; readonly counterLock: CounterLockRef }
    | { readonly phase: "claimed"; readonly userLock: UserLockRef; readonly counterLock: CounterLockRef; readonly claimTxId: Hex | null }
    | { readonly phase: "refunded"; readonly userLock: UserLockRef; readonly refundTxId: Hex | null }
    | { readonly phase: "abandoned"; readonly reason: string }
  );

export type SwapPhase = SwapRecord["phase"];

/** Phases after which nothing is left to do with the user's funds. */
export const FINAL_PHASES: ReadonlySet<SwapPhase> = new Set(["claimed", "refunded", "abandoned"]);

export interface SwapStore {
  put(record: SwapRecord): Promise<void>;
  get(swapId: string): Promise<SwapRecord | null>;
  list(): Promise<SwapRecord[]>;
}

/** Keeps records in memory: for tests, or a browser tab that accepts losing them on reload. */
export class MemorySwapStore implements SwapStore {
  readonly #records = new Map<string, string>();

  async put(record: SwapRecord): Promise<void> {
    this.#records.set(record.swapId, JSON.stringify(record));
  }

  async get(swapId: string): Promise<SwapRecord | null> {
    const s = this.#records.get(swapId);
    return s === undefined ? null : (JSON.parse(s) as SwapRecord);
  }

  async list(): Promise<SwapRecord[]> {
    return [...this.#records.values()].map((s) => JSON.parse(s) as SwapRecord);
  }
}

/** The part of the Web Storage API (localStorage, sessionStorage) the browser store needs. */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  readonly length: number;
  key(index: number): string | null;
}

/** Keeps records in a Web Storage area under a prefix, e.g. `new WebStorageSwapStore(localStorage)`. */
export class WebStorageSwapStore implements SwapStore {
  constructor(private readonly storage: WebStorageLike, private readonly prefix = "isthmus.swap.") {}

  async put(record: SwapRecord): Promise<void> {
    this.storage.setItem(this.prefix + record.swapId, JSON.stringify(record));
  }

  async get(swapId: string): Promise<SwapRecord | null> {
    const s = this.storage.getItem(this.prefix + swapId);
    return s === null ? null : (JSON.parse(s) as SwapRecord);
  }

  async list(): Promise<SwapRecord[]> {
    const out: SwapRecord[] = [];
    for (let i = 0; i < this.storage.length; i++) {
      const key = this.storage.key(i);
      if (key?.startsWith(this.prefix)) out.push(JSON.parse(this.storage.getItem(key)!) as SwapRecord);
    }
    return out;
  }
}
