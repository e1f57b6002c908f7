/**
 * The native HTLC module. The lock record is the escrow: `lock` moves the amount out of the
 * sender's balance into the record; exactly one of `claim` (to the receiver, strictly before
 * the timelock, with the preimage) or `refund` (to the sender, at or after the timelock)
 * pays it out. Anyone may submit either; the payee is fixed by the lock.
 * Times are the executing block's unix seconds, floor(header.timeMs / 1000).
 */
import { type Hex, fromHex, toHex } from "../../proofs/hex.ts";
import { sha256 } from "../../proofs/consortium/domain.ts";
import { type LockStatus, type LockTerms, lockIdFor } from "../../proofs/consortium/state.ts";
import { type ChainEvent } from "../../proofs/consortium/results.ts";
import { credit, debit } from "./bank.ts";
import { reject, TxErrorCode } from "./codes.ts";
import { type LedgerState } from "./ledger-state.ts";

/** The only status changes a lock ever makes. */
export const LOCK_TRANSITIONS: Readonly<Record<LockStatus, readonly LockStatus[]>> = Object.freeze({
  locked: ["claimed", "refunded"],
  claimed: [],
  refunded: [],
});

export interface LockOutcome {
  readonly lockId: Hex;
  readonly events: ChainEvent[];
}

export function lock(state: LedgerState, sender: Hex, terms: LockTerms, nowSec: number): LockOutcome {
  if (terms.timelock <= nowSec) {
    throw reject(TxErrorCode.BAD_TIMELOCK, `timelock ${terms.timelock} is not after block time ${nowSec}`, { timelock: terms.timelock, blockTimeSec: nowSec });
  }
  const lockId = lockIdFor(sender, terms);
  if (state.lock(lockId)) throw reject(TxErrorCode.LOCK_EXISTS, `lock ${lockId} already exists`, { lockId });
  debit(state, sender, terms.asset, terms.amount);
  const { receiver, asset, amount, hashlock, timelock } = terms;
  state.putLock(lockId, { sender, receiver, asset, amount, hashlock, timelock, status: "locked", preimage: null });
  return { lockId, events: [{ kind: "locked", lockId, sender, receiver, asset, amount, hashlock, timelock }] };
}

export function claim(state: LedgerState, lockId: Hex, preimage: Hex, nowSec: number): ChainEvent[] {
  const record = openLock(state, lockId, "claimed");
  if (nowSec >= record.timelock) {
    throw reject(TxErrorCode.LOCK_EXPIRED, `lock ${lockId} expired: block time ${nowSec} is not before its timelock ${record.timelock}`, {
      lockId,
      timelock: record.timelock,
      blockTimeSec: nowSec,
    });
  }
  if (toHex(sha256(fromHex(preimage, "preimage", 32))) !== record.hashlock) {
    throw reject(TxErrorCode.WRONG_PREIMAGE, `sha256(preimage) does not match the hashlock of ${lockId}`, { lockId });
  }
  credit(state, record.receiver, record.asset, record.amount);
  state.putLock(lockId, { ...record, status: "claimed", preimage });
  return [{ kind: "claimed", lockId, receiver: record.receiver, preimage }];
}

export function refund(state: LedgerState, lockId: Hex, nowSec: number): ChainEvent[] {
  const record = openLock(state, lockId, "refunded");
  if (nowSec < record.timelock) {
    throw reject(TxErrorCode.LOCK_NOT_EXPIRED, `lock ${lockId} is not refundable yet: block time ${nowSec} is before its timelock ${record.timelock}`, {
      lockId,
      timelock: record.timelock,
      blockTimeSec: nowSec,
    });
  }
  credit(state, record.sender, record.asset, record.amount);
  state.putLock(lockId, { ...record, status: "refunded" });
  return [{ kind: "refunded", lockId, sender: record.sender }];
}

function openLock(state: LedgerState, lockId: Hex, to: LockStatus) {
  const record = state.lock(lockId);
  if (!record) throw reject(TxErrorCode.LOCK_NOT_FOUND, `no lock ${lockId}`, { lockId });
  if (!LOCK_TRANSITIONS[record.status].includes(to)) {
    throw reject(TxErrorCode.LOCK_NOT_OPEN, `lock ${lockId} is already ${record.status}`, { lockId, status: record.status });
  }
  return record;
}
