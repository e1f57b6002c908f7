/**
 * The one interface every ledger implements. The relayer (and the CLI acting as a dApp)
 * see ledgers only through it; nothing above `chains/` imports a concrete chain except
 * the entry points that construct adapters.
 *
 * Conventions shared by every adapter:
 * - Addresses and 32-byte values are lower-case 0x-hex strings.
 * - Amounts are bigint in the asset's base units (KRW has 2 decimals: 100 KRW = 10000n).
 * - Times are unix seconds *of the ledger's own clock* (block time), never a wall clock.
 * - Everything an adapter returns from get* and watch* methods is FINAL under that ledger's
 *   finality rule (consortium: committed by >2/3 stake; EVM: N confirmations) and, where
 *   the adapter can, verified against a finalized header (`verified` says how).
 */

import type { ProofBundle } from "../proofs/bundle.ts";

export type Hex = `0x${string}`;

export type LedgerKind = "consortium" | "evm" | "fabric";

/** What the margin computation needs to know about a ledger's timing. */
export interface LedgerTiming {
  /** Expected seconds between blocks. */
  readonly blockTimeSec: number;
  /** Seconds from inclusion until the ledger's finality rule is met (e.g. confirmations × block time). */
  readonly finalitySec: number;
  /** Bound on how far this ledger's block time may differ from true time, in seconds. */
  readonly clockSkewSec: number;
}

export interface AssetInfo {
  /** Symbol as users type it: "KRW", "ETH", "KRWT", "ISTH". */
  readonly symbol: string;
  readonly decimals: number;
  /** Ledger-native identifier: the symbol on the consortium chain; token address (or 0x0 for ETH) on EVM. */
  readonly id: string;
}

export type LockStatus = "locked" | "claimed" | "refunded";

/** An HTLC lock as stored on a ledger, read at a finalized height. */
export type HtlcLock = {
  readonly chain: string;
  readonly lockId: Hex;
  readonly sender: Hex;
  readonly receiver: Hex;
  /** Asset symbol (adapter maps ledger ids back to symbols). */
  readonly asset: string;
  readonly amount: bigint;
  /** sha256(preimage), 32 bytes. */
  readonly hashlock: Hex;
  /** Unix seconds in the ledger's block time: claim only strictly before, refund at or after. */
  readonly timelock: number;
} & (
  | { readonly status: "locked" }
  | { readonly status: "claimed"; readonly preimage: Hex }
  | { readonly status: "refunded" }
);

/** How the adapter established that what it returns is final and true. */
export type Verification =
  | { readonly kind: "state-proof"; readonly height: number; readonly stateRoot: Hex }
  | { readonly kind: "finalized-rpc-read"; readonly height: number; readonly blockHash: Hex }
  /** Fabric: the block holding the lock's latest write, verified from the trusted channel config (proofs/fabric). */
  | { readonly kind: "block-proof"; readonly height: number; readonly blockHash: Hex };

export interface VerifiedLock {
  readonly lock: HtlcLock;
  readonly verified: Verification;
}

/** Facts a ledger emits, each at a finalized height, de-duplicated by (txId, index). */
export type LedgerEvent =
  | { readonly kind: "locked"; readonly lock: HtlcLock & { status: "locked" }; readonly txId: Hex; readonly height: number; readonly index: number }
  | { readonly kind: "claimed"; readonly lockId: Hex; readonly preimage: Hex; readonly txId: Hex; readonly height: number; readonly index: number }
  | { readonly kind: "refunded"; readonly lockId: Hex; readonly txId: Hex; readonly height: number; readonly index: number };

/**
 * Where a ledger's event stream resumes: just after transaction `afterTxId` of `block`, or
 * at the start of `block` when afterTxId is null. Persisting the checkpoint of each event
 * once it is handled makes a restart resume exactly after the last handled event.
 */
export interface EventCheckpoint {
  readonly block: number;
  readonly afterTxId: string | null;
}

/** One event of a stream and the checkpoint that resumes just after it. */
export interface CheckpointedEvent {
  readonly event: LedgerEvent;
  readonly next: EventCheckpoint;
}

/**
 * A ledger whose final events arrive as a resumable stream (Fabric's chaincode events)
 * rather than by scanning block ranges. The watcher keeps the checkpoint, not the adapter.
 */
export interface EventStreamSource {
  /**
   * Events of blocks <= toHeight that the stream holds from `from` on, in commit order;
   * `next` resumes after everything returned, including stream entries that are no HTLC event.
   */
  eventsFrom(from: EventCheckpoint, toHeight: number): Promise<{ readonly events: readonly CheckpointedEvent[]; readonly next: EventCheckpoint }>;
}

export function hasEventStream(l: LedgerAdapter): l is LedgerAdapter & EventStreamSource {
  return typeof (l as Partial<EventStreamSource>).eventsFrom === "function";
}

export interface LockParams {
  readonly receiver: Hex;
  readonly asset: string;
  readonly amount: bigint;
  readonly hashlock: Hex;
  readonly timelock: number;
}

export interface SubmitResult {
  readonly txId: Hex;
  /** Height at which the transaction was included (not necessarily final yet). */
  readonly height: number;
}

export interface LockResult extends SubmitResult {
  readonly lockId: Hex;
}

export interface LedgerHead {
  /** Last height that satisfies the finality rule. */
  readonly finalizedHeight: number;
  /** Block time (unix seconds) of that finalized block. */
  readonly finalizedTime: number;
  /** Latest height the node knows, final or not. */
  readonly headHeight: number;
}

/**
 * A ledger as seen by one key holder (the relayer's key, or a dApp user's key).
 */
export interface LedgerAdapter {
  readonly name: string;
  readonly kind: LedgerKind;
  readonly timing: LedgerTiming;
  /** This adapter's own account on the ledger. */
  readonly address: Hex;

  assets(): readonly AssetInfo[];
  /** Throws InvalidInputError naming the symbol when the ledger has no such asset. */
  asset(symbol: string): AssetInfo;

  head(): Promise<LedgerHead>;
  /** Finalized HTLC events with from <= height <= to (to must be <= finalizedHeight). */
  events(fromHeight: number, toHeight: number): Promise<LedgerEvent[]>;
  /** The lock at the finalized head, verified; null when it does not exist. */
  getLock(lockId: Hex): Promise<VerifiedLock | null>;
  /**
   * A self-contained proof bundle (proofs/bundle.ts) of the lock at the finalized head,
   * verified by the adapter first, that anyone can re-check offline; null when the lock
   * does not exist. Optional: an adapter without it offers no bundles.
   */
  proveLock?(lockId: Hex): Promise<ProofBundle | null>;
  /** Deterministic id of the lock these parameters would create, so a write-ahead record can name it before sending. */
  lockIdFor(params: LockParams, sender?: Hex): Hex;
  balance(asset: string, owner?: Hex): Promise<bigint>;

  lock(params: LockParams): Promise<LockResult>;
  claim(lockId: Hex, preimage: Hex): Promise<SubmitResult>;
  refund(lockId: Hex): Promise<SubmitResult>;
  /** Resolves once the given height is final. */
  waitFinal(height: number, timeoutMs?: number): Promise<void>;

  close(): Promise<void>;
}
