/**
 * LedgerError codes of the consortium chain. Transactions are refused or fail with one of
 * the TX codes; the same code is what SubmitTx answers and what a failed result records.
 */
import { type ErrorDetails, LedgerError } from "../errors.ts";

export const TxErrorCode = {
  /** Bytes do not decode to a well-formed transaction (or a field is out of range). */
  MALFORMED_TX: "MALFORMED_TX",
  WRONG_CHAIN_ID: "WRONG_CHAIN_ID",
  /** Signature unusable or not by the declared sender. */
  BAD_SIGNATURE: "BAD_SIGNATURE",
  /** Nonce already used, or not the sender's next nonce. */
  BAD_NONCE: "BAD_NONCE",
  INSUFFICIENT_FUNDS: "INSUFFICIENT_FUNDS",
  UNKNOWN_ASSET: "UNKNOWN_ASSET",
  /** Issue by someone other than the asset's issuer. */
  NOT_ISSUER: "NOT_ISSUER",
  /** Issue would take the supply past 2^256 - 1. */
  SUPPLY_OVERFLOW: "SUPPLY_OVERFLOW",
  /** Lock whose timelock is not after the block time. */
  BAD_TIMELOCK: "BAD_TIMELOCK",
  LOCK_EXISTS: "LOCK_EXISTS",
  LOCK_NOT_FOUND: "LOCK_NOT_FOUND",
  /** Claim at or after the timelock. */
  LOCK_EXPIRED: "LOCK_EXPIRED",
  /** Refund before the timelock. */
  LOCK_NOT_EXPIRED: "LOCK_NOT_EXPIRED",
  WRONG_PREIMAGE: "WRONG_PREIMAGE",
  /** Claim or refund of a lock already claimed or refunded. */
  LOCK_NOT_OPEN: "LOCK_NOT_OPEN",
  /** Unbond, delegation or endpoint announcement for an address that is not a bonded validator. */
  NOT_A_VALIDATOR: "NOT_A_VALIDATOR",
  /** Unbond of more than the validator's bonded stake. */
  UNBOND_EXCEEDS_STAKE: "UNBOND_EXCEEDS_STAKE",
  /** A bond or the stake an unbond leaves is below the chain's minimum (unbond all instead). */
  BOND_TOO_SMALL: "BOND_TOO_SMALL",
  /** A bond by a non-member when the set already has MAX_VALIDATORS members. */
  TOO_MANY_VALIDATORS: "TOO_MANY_VALIDATORS",
  /** The change would leave the validator set empty. */
  LAST_VALIDATOR: "LAST_VALIDATOR",
  /** Undelegate of more than the sender has delegated to that validator. */
  UNDELEGATE_EXCEEDS_DELEGATION: "UNDELEGATE_EXCEEDS_DELEGATION",
  /** Delegate to oneself: a validator's own stake is a bond. */
  SELF_DELEGATION: "SELF_DELEGATION",
  /** The validator was slashed for equivocation and removed for good. */
  VALIDATOR_SLASHED: "VALIDATOR_SLASHED",
  /** Evidence that does not prove an equivocation (signatures, signer, fields). */
  EVIDENCE_INVALID: "EVIDENCE_INVALID",
  /** Evidence older than the unbonding period (its stake may be gone) or from the future. */
  EVIDENCE_OUT_OF_RANGE: "EVIDENCE_OUT_OF_RANGE",
  /** The same evidence was already committed. */
  DUPLICATE_EVIDENCE: "DUPLICATE_EVIDENCE",
  /** The node's mempool is full or holds too many of this sender's transactions. */
  MEMPOOL_FULL: "MEMPOOL_FULL",
  /** Accepted into the mempool, later evicted: its nonce was taken by another tx, or it was queued (mempool.ts) and expired or made room. */
  TX_DROPPED: "TX_DROPPED",
} as const;
export type TxErrorCode = (typeof TxErrorCode)[keyof typeof TxErrorCode];

/** Client-side codes of the node API and the adapter. */
export const RpcErrorCode = {
  /** The node could not be reached or answered with a gRPC error. */
  RPC_FAILED: "RPC_FAILED",
  /** The node answered with data that does not parse. */
  BAD_RESPONSE: "BAD_RESPONSE",
  /** A submitted transaction was not included in time; it may still be. */
  TX_TIMEOUT: "TX_TIMEOUT",
  /** A height did not become final in time. */
  WAIT_TIMEOUT: "WAIT_TIMEOUT",
  /** The node has not reached a height the caller asked about. */
  NODE_BEHIND: "NODE_BEHIND",
  /** The node serves another chain than the one configured. */
  WRONG_CHAIN: "WRONG_CHAIN",
} as const;

/** A transaction the chain refused (at submit) or that failed in its block; `reason` is the chain's own text. */
export class TxRejectedError extends LedgerError {
  override name = "TxRejectedError";
  readonly reason: string;
  constructor(chain: string, code: TxErrorCode, reason: string, details: ErrorDetails = {}) {
    super(chain, code, reason, details);
    this.reason = reason;
  }
}

/** Node-side label for errors raised by the chain itself. */
export const CHAIN_LABEL = "consortium";

export function reject(code: TxErrorCode, reason: string, details: ErrorDetails = {}): TxRejectedError {
  return new TxRejectedError(CHAIN_LABEL, code, reason, details);
}

export function isTxErrorCode(code: string): code is TxErrorCode {
  return Object.prototype.hasOwnProperty.call(TxErrorCode, code);
}
