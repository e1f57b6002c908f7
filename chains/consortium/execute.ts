/**
 * The state transition. A transaction is first ADMITTED (well-formed, this chain, valid
 * signature, nonce = sender's next nonce) and then EXECUTED:
 * - A block containing a transaction that is not admissible is invalid as a whole
 *   (validators prevote nil on it); such a transaction cannot be charged to anyone.
 * - An admitted transaction whose execution fails (funds, asset, lock rules, time) stays
 *   in the block as a failed result with its code and reason: its nonce is consumed and
 *   nothing else changes. The mempool runs the same checks at submit time, so a client
 *   normally hears the reason before anything is included.
 */
import { type Hex, toHex } from "../../proofs/hex.ts";
import { blockTimeSec } from "../../proofs/consortium/header.ts";
import {
  type ChainEvent,
  type EncodedTxOutcome,
  type TxResultRecord,
  encodeEvent,
  encodeTxResult,
  resultsRoot,
  txRootOfHashes,
} from "../../proofs/consortium/results.ts";
import { issue, transfer } from "./bank.ts";
import { reject, TxErrorCode, TxRejectedError } from "./codes.ts";
import { claim, lock, refund } from "./htlc.ts";
import { KvOverlay, type MemoryKv } from "./kv.ts";
import { LedgerState } from "./ledger-state.ts";
import { checkTxStateless, type SignedTx, txHashBytesOf } from "./tx.ts";
import { announceEndpoint, bond, delegate, releaseMatured, submitEvidence, unbond, undelegate } from "./staking.ts";

export interface BlockContext {
  readonly chainId: number;
  readonly height: number;
  readonly timeMs: number;
}

export interface TxOutcome {
  readonly tx: SignedTx;
  readonly record: TxResultRecord;
  readonly events: readonly ChainEvent[];
  readonly encoded: EncodedTxOutcome;
}

/** Throws BAD_NONCE unless `tx` uses its sender's next nonce. */
export function checkNonce(state: LedgerState, tx: SignedTx): void {
  const expected = state.nonce(tx.from);
  if (tx.nonce !== expected) {
    const why = tx.nonce < expected ? "already used" : "out of order";
    throw reject(TxErrorCode.BAD_NONCE, `nonce ${tx.nonce} ${why}: ${tx.from}'s next nonce is ${expected}`, { txHash: tx.hash, nonce: tx.nonce, expected });
  }
}

/**
 * Admits and executes one transaction on `kv`. Throws (TxRejectedError) only when the tx
 * is not admissible; an execution failure is returned as a failed outcome.
 */
export function applyTx(kv: KvOverlay, tx: SignedTx, ctx: BlockContext): TxOutcome {
  const { events, failure } = runTx(kv, tx, ctx);
  const record: TxResultRecord = {
    txHash: tx.hash,
    sender: tx.from,
    nonce: tx.nonce,
    ok: failure === undefined,
    code: failure?.code ?? "",
    message: failure?.reason ?? "",
    eventCount: events.length,
  };
  return { tx, record, events, encoded: { result: encodeTxResult(record), events: events.map((e) => encodeEvent(tx.hash, e)) } };
}

/**
 * applyTx without building the result record and events' encodings, which only a block
 * needs (the mempool's dry runs want the verdict): the same admission and the same writes.
 */
export function dryRunTx(kv: KvOverlay, tx: SignedTx, ctx: BlockContext): TxRejectedError | undefined {
  return runTx(kv, tx, ctx).failure;
}

function runTx(kv: KvOverlay, tx: SignedTx, ctx: BlockContext): { events: ChainEvent[]; failure: TxRejectedError | undefined } {
  const state = new LedgerState(kv);
  checkNonce(state, tx);
  state.setNonce(tx.from, tx.nonce + 1);
  const scratch = kv.child();
  try {
    const events = runBody(scratch, tx, ctx);
    scratch.commit();
    return { events, failure: undefined };
  } catch (err) {
    if (!(err instanceof TxRejectedError)) throw err;
    return { events: [], failure: err };
  }
}

function runBody(kv: KvOverlay, tx: SignedTx, ctx: BlockContext): ChainEvent[] {
  const state = new LedgerState(kv);
  const nowSec = blockTimeSec(ctx);
  const b = tx.body;
  switch (b.kind) {
    case "transfer":
      return transfer(state, tx.from, b.to, b.asset, b.amount);
    case "issue":
      return issue(state, tx.from, b.to, b.asset, b.amount);
    case "lock":
      return lock(state, tx.from, b, nowSec).events;
    case "claim":
      return claim(state, b.lockId, b.preimage, nowSec);
    case "refund":
      return refund(state, b.lockId, nowSec);
    // Staking changes are read from state (schedule, unbonding queue, slashing records), not events.
    case "bond":
      bond(state.kv, tx.from, b.amount, ctx);
      return [];
    case "unbond":
      unbond(state.kv, tx.from, b.amount, ctx);
      return [];
    case "evidence":
      submitEvidence(kv, b.evidence, ctx);
      return [];
    case "delegate":
      delegate(kv, tx.from, b.validator, b.amount, ctx);
      return [];
    case "undelegate":
      undelegate(kv, tx.from, b.validator, b.amount, ctx);
      return [];
    case "endpoint":
      announceEndpoint(kv, tx.from, b.endpoint);
      return [];
  }
}

export interface BlockExecution {
  readonly txs: readonly Uint8Array[];
  readonly outcomes: readonly TxOutcome[];
  /** Post-state writes over the committed state; merge with `overlay.commit()`. */
  readonly overlay: KvOverlay;
  readonly txRoot: Hex;
  readonly resultsRoot: Hex;
  readonly stateRoot: Hex;
}

export type BlockExecutionResult = ({ readonly ok: true } & BlockExecution) | { readonly ok: false; readonly reason: string };

/**
 * Executes a proposed block's transactions on top of `committed`; any inadmissible tx
 * invalidates the block. `knownTxRoot` is the caller's txRoot of these same `txs`, if it has it.
 */
export function executeBlock(committed: MemoryKv, txs: readonly Uint8Array[], ctx: BlockContext, knownTxRoot?: Hex): BlockExecutionResult {
  const overlay = new KvOverlay(committed);
  releaseMatured(overlay, ctx.height);
  const outcomes: TxOutcome[] = [];
  for (let i = 0; i < txs.length; i++) {
    try {
      outcomes.push(applyTx(overlay, checkTxStateless(txs[i]!, ctx.chainId), ctx));
    } catch (err) {
      if (err instanceof TxRejectedError) return { ok: false, reason: `tx ${i}: ${err.code}: ${err.reason}` };
      throw err;
    }
  }
  return { ok: true, ...finish(overlay, txs, outcomes, knownTxRoot) };
}

export interface SkippedTx {
  readonly bytes: Uint8Array;
  readonly error: TxRejectedError;
}

/** What a proposer builds: the admissible prefix-preserving subset of `candidates`, executed. */
export function buildBlockExecution(
  committed: MemoryKv,
  candidates: readonly Uint8Array[],
  ctx: BlockContext,
  maxTxs: number,
): BlockExecution & { readonly skipped: readonly SkippedTx[] } {
  const overlay = new KvOverlay(committed);
  releaseMatured(overlay, ctx.height);
  const included: Uint8Array[] = [];
  const outcomes: TxOutcome[] = [];
  const skipped: SkippedTx[] = [];
  for (const bytes of candidates) {
    if (included.length >= maxTxs) break;
    // Admission failures write nothing (the nonce check precedes any write), so no rollback is needed.
    try {
      outcomes.push(applyTx(overlay, checkTxStateless(bytes, ctx.chainId), ctx));
      included.push(bytes);
    } catch (err) {
      if (!(err instanceof TxRejectedError)) throw err;
      skipped.push({ bytes, error: err });
    }
  }
  return { ...finish(overlay, included, outcomes), skipped };
}

/** txRoot of txs: from their hashes, which decoding computed (tx.ts remembers them by the bytes). */
export function blockTxRoot(txs: readonly Uint8Array[]): Hex {
  return txRootOfHashes(txs.map(txHashBytesOf));
}

function finish(overlay: KvOverlay, txs: readonly Uint8Array[], outcomes: readonly TxOutcome[], knownTxRoot?: Hex): BlockExecution {
  return {
    txs,
    outcomes,
    overlay,
    txRoot: knownTxRoot ?? blockTxRoot(txs),
    resultsRoot: resultsRoot(outcomes.map((o) => o.encoded)),
    stateRoot: toHex(overlay.root()),
  };
}
